import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, spatialMean } from '@pyramid/core';
import {
  BatchNorm2d,
  Conv2d,
  type ForwardContext,
  Linear,
  Module,
  ModuleList,
  type PyramidalUnit,
  createUnit,
} from '@pyramid/units';
import { type Architecture, type ArchitectureConfig, resolveArchitecture } from './architecture';
import { ARCHITECTURE_LIMITS, weightCount } from './config-schema';
import { type ModelGeometry, modelGeometry } from './geometry';

export interface BuildOptions {
  /** Seed of the initial weights (and nothing else). Default 0. */
  seed?: number;
  /** Or a stream to draw them from; takes precedence over `seed`. */
  rng?: Rng;
}

/**
 * A PyramidNet (Han, Kim & Kim, CVPR 2017), laid out as the paper's Fig. 1 and the reference
 * PyTorch code: stem, three (CIFAR) or four (ImageNet) stages of pyramidal units whose width grows
 * by the widening schedule at every unit, then BN, ReLU, global average pool and a classifier.
 * Parameter names follow the reference's state_dict.
 */
export class PyramidNet extends Module {
  readonly architecture: Architecture;
  /** Every layer's shapes, strides and channels: what the model is built from. */
  readonly geometry: ModelGeometry;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: ModuleList<PyramidalUnit>[];
  readonly bnFinal: BatchNorm2d;
  readonly fc: Linear;

  constructor(config: ArchitectureConfig, options: BuildOptions = {}) {
    super();
    const arch = resolveArchitecture(config);
    this.architecture = arch;
    const { stem, stages, head } = (this.geometry = modelGeometry(arch));
    const weights = weightCount(this.geometry);
    if (weights > ARCHITECTURE_LIMITS.weights) {
      throw new ConfigError(`this architecture has ${weights} convolution and fc weights, more than the ${ARCHITECTURE_LIMITS.weights} a model may have`);
    }
    const rng = options.rng ?? Rng.fromSeed(options.seed ?? 0).fork('init');

    // Stem: conv3x3 + BN (CIFAR), or conv7x7/2 + BN (+ ReLU and max-pool in forward) (ImageNet).
    this.conv1 = this.addChild('conv1', Conv2d.from(stem.conv, rng));
    this.bn1 = this.addChild('bn1', new BatchNorm2d(stem.bn.channels));

    // Stages of pyramidal units, each widening by the schedule.
    this.stages = stages.map((units, s) => {
      const built = units.map((unit) =>
        createUnit(
          unit.type,
          {
            inChannels: unit.inChannels,
            width: unit.width,
            stride: unit.stride,
            design: arch.design,
            shortcut: arch.shortcut,
            shakeDropKeep: unit.shakeDropKeep,
            shakeDropGate: arch.shakeDrop?.gate,
          },
          rng,
        ),
      );
      return this.addChild(`layer${s + 1}`, new ModuleList<PyramidalUnit>(built));
    });

    // Head: BN, ReLU, global average pool, fully connected.
    this.bnFinal = this.addChild('bn_final', new BatchNorm2d(head.bn.channels));
    this.fc = this.addChild('fc', new Linear(head.fc.inFeatures, head.fc.outFeatures, rng));
  }

  /** Logits for a batch of normalised NHWC images. */
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    const { channels } = this.architecture.input;
    if (x.rank !== 4 || x.shape[3] !== channels) {
      throw new ConfigError(`model input must be [batch, height, width, ${channels}], got [${x.shape.join(', ')}]`);
    }
    const { maxPool } = this.geometry.stem;
    let h = this.bn1.forward(this.conv1.forward(x), ctx, maxPool !== null);
    if (maxPool) h = tf.maxPool(h, maxPool.kernelSize, maxPool.stride, maxPool.padding);
    // A scope per unit: what the backward pass needs is held by the gradient tape, and the rest
    // (the residual branch's last output, batch statistics) goes as soon as the unit is done
    // instead of at the end of the forward pass.
    for (const stage of this.stages) {
      for (const unit of stage.items) {
        const input = h;
        h = tf.tidy(() => unit.forward(input, ctx));
      }
    }
    h = this.bnFinal.forward(h, ctx, true);
    return this.fc.forward(spatialMean(h));
  }

  /** Eval-mode logits, with every intermediate tensor freed. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x, { training: false }));
  }

  /** Every unit in order, across stages. */
  units(): PyramidalUnit[] {
    return this.stages.flatMap((s) => [...s.items]);
  }
}
