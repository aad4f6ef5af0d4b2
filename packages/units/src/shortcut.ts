import * as tf from '@tensorflow/tfjs-core';
import { type Rng, shortcutAdd } from '@pyramid/core';
import { BatchNorm2d, Conv2d } from './layers';
import { type ForwardContext, Module } from './module';

/**
 * - 'zero-pad': the paper's shortcut. Identity, a 2x2 average pool of stride 2 when the unit
 *   downsamples, then zero channels appended to reach the residual's width. No parameters.
 * - 'projection': a 1x1 convolution (with the unit's stride) and BN wherever the shape changes,
 *   the alternative the paper compares against.
 */
export type ShortcutType = 'zero-pad' | 'projection';

/** Whether a shortcut of this type needs a 1x1 convolution (and BN) to match the residual. */
export function hasProjection(type: ShortcutType, inChannels: number, outChannels: number, stride: number): boolean {
  return type === 'projection' && (inChannels !== outChannels || stride !== 1);
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
    if (hasProjection(type, inChannels, outChannels, stride)) {
      this.conv = this.addChild('conv', new Conv2d(inChannels, outChannels, 1, stride, 0, rng));
      this.bn = this.addChild('bn', new BatchNorm2d(outChannels));
    }
  }

  /** residual + shortcut(x): one fused op for the zero-padded shortcut. */
  addTo(residual: tf.Tensor4D, x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (this.conv && this.bn) return tf.add(residual, this.bn.forward(this.conv.forward(x), ctx));
    return shortcutAdd(residual, x, this.stride as 1 | 2);
  }
}
