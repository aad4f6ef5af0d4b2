import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@pyramid/core';
import { BatchNorm2d, Conv2d } from './layers';
import { type ForwardContext, Module } from './module';

/**
 * - 'zero-pad': the paper's shortcut. Identity, a 2x2 average pool of stride 2 when the unit
 *   downsamples, then zero channels appended to reach the residual's width. No parameters.
 * - 'projection': a 1x1 convolution (with the unit's stride) and BN wherever the shape changes,
 *   the alternative the paper compares against.
 */
export type ShortcutType = 'zero-pad' | 'projection';

/**
 * 2x2 / stride-2 average pool with PyTorch's ceil_mode=True: on an odd side the last window hangs
 * over the edge and averages only the pixels it covers.
 */
export function downsampleAverage(x: tf.Tensor4D): tf.Tensor4D {
  const [, height, width] = x.shape;
  const padBottom = height % 2;
  const padRight = width % 2;
  if (!padBottom && !padRight) return tf.avgPool(x, 2, 2, 'valid');
  // tfjs's 'same' padding computes this forward pass but its AvgPoolGrad divides partial windows
  // by 4 instead of by the pixels they cover (tfjs 4.22). Zero-padding, a full-window average and
  // a rescale of the edge windows by 4 / covered pixels give the same values with exact gradients.
  const pooled = tf.avgPool(tf.pad(x, [[0, 0], [0, padBottom], [0, padRight], [0, 0]]), 2, 2, 'valid');
  const [, outH, outW] = pooled.shape;
  const scale = new Float32Array(outH * outW);
  for (let i = 0; i < outH; i++) {
    for (let j = 0; j < outW; j++) {
      const rows = padBottom && i === outH - 1 ? 1 : 2;
      const cols = padRight && j === outW - 1 ? 1 : 2;
      scale[i * outW + j] = 4 / (rows * cols);
    }
  }
  return tf.mul(pooled, tf.tensor4d(scale, [1, outH, outW, 1]));
}

export function appendZeroChannels(x: tf.Tensor4D, channels: number): tf.Tensor4D {
  const extra = channels - x.shape[3];
  if (extra === 0) return x;
  return tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]);
}

export class Shortcut extends Module {
  readonly conv?: Conv2d;
  readonly bn?: BatchNorm2d;

  constructor(
    readonly type: ShortcutType,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
    rng: Rng,
  ) {
    super();
    if (stride !== 1 && stride !== 2) throw new Error(`a shortcut supports stride 1 or 2, got ${stride}`);
    if (outChannels < inChannels) {
      throw new Error(`a zero-padded shortcut cannot narrow ${inChannels} to ${outChannels} channels`);
    }
    if (type === 'projection' && (inChannels !== outChannels || stride !== 1)) {
      this.conv = this.addChild('conv', new Conv2d(inChannels, outChannels, 1, stride, 0, rng));
      this.bn = this.addChild('bn', new BatchNorm2d(outChannels));
    }
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (this.conv && this.bn) return this.bn.forward(this.conv.forward(x), ctx);
    const pooled = this.stride === 1 ? x : downsampleAverage(x);
    return appendZeroChannels(pooled, this.outChannels);
  }
}
