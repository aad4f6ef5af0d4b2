import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@pyramid/core';
import {
  BatchNorm2d,
  Conv2d,
  type ForwardContext,
  Linear,
  Module,
  ModuleList,
  type PyramidalUnit,
  createUnit,
  linearKeepProbabilities,
} from '@pyramid/units';
import { type Architecture, type ArchitectureConfig, resolveArchitecture } from './architecture';

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
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: ModuleList<PyramidalUnit>[];
  readonly bnFinal: BatchNorm2d;
  readonly fc: Linear;

  constructor(config: ArchitectureConfig, options: BuildOptions = {}) {
    super();
    const arch = resolveArchitecture(config);
    this.architecture = arch;
    const rng = options.rng ?? Rng.fromSeed(options.seed ?? 0).fork('init');
    const imagenet = arch.layout === 'imagenet';

    // Stem: conv3x3 + BN (CIFAR), or conv7x7/2 + BN (+ ReLU and max-pool in forward) (ImageNet).
    this.conv1 = this.addChild(
      'conv1',
      imagenet ? new Conv2d(arch.input.channels, arch.stemWidth, 7, 2, 3, rng) : new Conv2d(arch.input.channels, arch.stemWidth, 3, 1, 1, rng),
    );
    this.bn1 = this.addChild('bn1', new BatchNorm2d(arch.stemWidth));

    // Stages: the first keeps the resolution, every later one halves it in its first unit.
    const keep = arch.shakeDrop ? linearKeepProbabilities(arch.unitWidths.length, arch.shakeDrop.lastKeep) : null;
    let channels = arch.stemWidth;
    let k = 0;
    this.stages = arch.stageUnits.map((count, s) => {
      const units: PyramidalUnit[] = [];
      for (let i = 0; i < count; i++, k++) {
        const unit = createUnit(
          arch.unit,
          {
            inChannels: channels,
            width: arch.unitWidths[k],
            stride: s > 0 && i === 0 ? 2 : 1,
            design: arch.design,
            shortcut: arch.shortcut,
            shakeDropKeep: keep ? keep[k] : undefined,
            shakeDropGate: arch.shakeDrop?.gate,
          },
          rng,
        );
        units.push(unit);
        channels = unit.outChannels;
      }
      return this.addChild(`layer${s + 1}`, new ModuleList(units));
    });

    // Head: BN, ReLU, global average pool, fully connected.
    this.bnFinal = this.addChild('bn_final', new BatchNorm2d(arch.featureChannels));
    this.fc = this.addChild('fc', new Linear(arch.featureChannels, arch.classes, rng));
  }

  /** Logits for a batch of normalised NHWC images. */
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    const { channels } = this.architecture.input;
    if (x.rank !== 4 || x.shape[3] !== channels) {
      throw new ConfigError(`model input must be [batch, height, width, ${channels}], got [${x.shape.join(', ')}]`);
    }
    const imagenet = this.architecture.layout === 'imagenet';
    let h = this.bn1.forward(this.conv1.forward(x), ctx, imagenet);
    if (imagenet) h = tf.maxPool(h, 3, 2, 1);
    for (const stage of this.stages) {
      for (const unit of stage.items) h = unit.forward(h, ctx);
    }
    h = this.bnFinal.forward(h, ctx, true);
    return this.fc.forward(tf.mean(h, [1, 2]) as tf.Tensor2D);
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
