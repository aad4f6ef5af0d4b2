import * as tf from '@tensorflow/tfjs-core';
import { type BatchNormStatistics, type Rng, batchNormTraining, conv2dBatchNorm, updateRunningStatistics } from '@pyramid/core';
import { type ForwardContext, Module } from './module';

/** What defines a convolution's shape, apart from its input size. */
export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride: number;
  padding: number;
}

/**
 * Convolution without bias, weights in tfjs's HWIO layout. `padding` pixels are added on every
 * side, as PyTorch's `padding=` does; tfjs's 'same' would pad stride-2 convolutions
 * asymmetrically and shift every feature map after the first downsampling.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: number,
    rng: Rng,
  ) {
    super();
    // He et al. init as the reference: normal(0, sqrt(2 / (k * k * out_channels))).
    const std = Math.sqrt(2 / (kernelSize * kernelSize * outChannels));
    const values = rng.fillNormal(new Float32Array(kernelSize * kernelSize * inChannels * outChannels), 0, std);
    this.weight = this.addParameter('weight', tf.tensor4d(values, [kernelSize, kernelSize, inChannels, outChannels]));
  }

  static from(shape: ConvSpec, rng: Rng): Conv2d {
    return new Conv2d(shape.inChannels, shape.outChannels, shape.kernelSize, shape.stride, shape.padding, rng);
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.weight as tf.Tensor4D, this.stride, this.padding);
  }

}

/** Height and width of a convolution's (or pooling's) output, as PyTorch computes them for symmetric padding. */
export function convOutputSize(conv: Pick<ConvSpec, 'kernelSize' | 'stride' | 'padding'>, height: number, width: number): [number, number] {
  const out = (n: number) => Math.floor((n + 2 * conv.padding - conv.kernelSize) / conv.stride) + 1;
  return [out(height), out(width)];
}

/** Multiply-accumulates of a convolution per image, for an input of the given size. */
export function convMacs(conv: ConvSpec, height: number, width: number): number {
  const [oh, ow] = convOutputSize(conv, height, width);
  return oh * ow * conv.kernelSize * conv.kernelSize * conv.inChannels * conv.outChannels;
}

/** BatchNorm2d with PyTorch's semantics: epsilon 1e-5, momentum 0.1, unbiased running variance. */
export class BatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  /** PyTorch's int64 `num_batches_tracked`, kept so that export writes back what import read. */
  batchesTracked = 0;

  constructor(
    readonly channels: number,
    readonly epsilon = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.addParameter('weight', tf.ones([channels]));
    this.bias = this.addParameter('bias', tf.zeros([channels]));
    this.runningMean = this.addBuffer('running_mean', tf.zeros([channels]));
    this.runningVar = this.addBuffer('running_var', tf.ones([channels]));
  }

  /** BN, then ReLU when `relu` (fused into one kernel where the backend has it). */
  forward(x: tf.Tensor4D, ctx: ForwardContext, relu = false): tf.Tensor4D {
    if (!ctx.training) {
      const y = tf.batchNorm4d(x, this.runningMean as tf.Tensor1D, this.runningVar as tf.Tensor1D, this.bias as tf.Tensor1D, this.weight as tf.Tensor1D, this.epsilon);
      return relu ? tf.relu(y) : y;
    }
    const { y, mean, variance } = batchNormTraining(x, this.weight as tf.Tensor1D, this.bias as tf.Tensor1D, this.epsilon, relu);
    this.updateRunningStats(mean, variance, x.size / this.channels);
    return y;
  }

  /** running = (1 - momentum) * running + momentum * batch, with the batch variance unbiased. */
  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, count: number): void {
    updateRunningStatistics(this.runningMean, this.runningVar, mean, variance, this.momentum, count);
    this.batchesTracked++;
  }
}

/** Fully connected layer; the weight is [in, out] here and [out, in] in PyTorch. */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
  ) {
    super();
    // PyTorch's nn.Linear default, which the reference keeps: U(-1/sqrt(in), 1/sqrt(in)) for both.
    const bound = 1 / Math.sqrt(inFeatures);
    const w = rng.fillUniform(new Float32Array(inFeatures * outFeatures), -bound, bound);
    const b = rng.fillUniform(new Float32Array(outFeatures), -bound, bound);
    this.weight = this.addParameter('weight', tf.tensor2d(w, [inFeatures, outFeatures]));
    this.bias = this.addParameter('bias', tf.tensor1d(b));
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.weight as tf.Tensor2D), this.bias);
  }
}

/**
 * A convolution and the batch norm after it (then ReLU): in eval mode one op, which backends with
 * the kernel run as a single convolution with the batch norm folded into its filter.
 */
export function convBatchNorm(conv: Conv2d, bn: BatchNorm2d, x: tf.Tensor4D, ctx: ForwardContext, relu = false): tf.Tensor4D {
  if (ctx.training) return bn.forward(conv.forward(x), ctx, relu);
  const statistics = { mean: bn.runningMean, variance: bn.runningVar, scale: bn.weight, offset: bn.bias, epsilon: bn.epsilon } as BatchNormStatistics;
  return conv2dBatchNorm(x, conv.weight as tf.Tensor4D, conv.stride, conv.padding, statistics, relu);
}
