import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@pyramid/core';
import type { ForwardContext } from './module';

/**
 * ShakeDrop (Yamada et al. 2018) on a residual branch F(x):
 *   forward  G = x + (b + alpha - b * alpha) F(x),   b ~ Bernoulli(p_l), alpha ~ U[-1, 1]
 *   backward dG/dF scaled by (b + beta - b * beta),   beta ~ U[0, 1]
 *   eval     G = x + E[b + alpha - b * alpha] F(x) = x + p_l F(x)
 * Forward and backward use different random factors, hence the custom gradient. alpha and beta
 * are drawn per image; the gate b once per batch ('batch', as both reference implementations do)
 * or per image ('image').
 */
export type ShakeDropGate = 'batch' | 'image';

export class ShakeDrop {
  constructor(
    readonly keep: number,
    readonly gate: ShakeDropGate = 'batch',
  ) {
    if (!(keep >= 0 && keep <= 1)) throw new ConfigError(`ShakeDrop keep probability must be in [0, 1], got ${keep}`);
  }

  forward(residual: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!ctx.training) return tf.mul(residual, this.keep);
    if (!ctx.rng) throw new ConfigError('ShakeDrop needs a random stream (ctx.rng) in training mode');
    const n = residual.shape[0];
    const forwardScale = new Float32Array(n);
    const backwardScale = new Float32Array(n);
    const batchGate = this.gate === 'batch' ? (ctx.rng.bernoulli(this.keep) ? 1 : 0) : 0;
    for (let i = 0; i < n; i++) {
      const b = this.gate === 'batch' ? batchGate : ctx.rng.bernoulli(this.keep) ? 1 : 0;
      const alpha = 2 * ctx.rng.uniform() - 1;
      const beta = ctx.rng.uniform();
      forwardScale[i] = b + alpha - b * alpha;
      backwardScale[i] = b + beta - b * beta;
    }
    const forward = tf.tensor4d(forwardScale, [n, 1, 1, 1]);
    const backward = tf.tensor4d(backwardScale, [n, 1, 1, 1]);
    // Tensors a gradient needs must be saved: tf.grad disposes everything else its forward pass made.
    const shake = tf.customGrad(((x: tf.Tensor, save: (tensors: tf.Tensor[]) => void) => {
      save([backward]);
      return {
        value: tf.mul(x, forward),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return shake(residual) as tf.Tensor4D;
  }
}

/**
 * The linear rule of the ShakeDrop paper: p_l = 1 - (l / L)(1 - p_L) for unit l = 1..L, so the
 * first unit is almost never perturbed and the last is kept with probability p_L (0.5).
 */
export function linearKeepProbabilities(units: number, lastKeep = 0.5): number[] {
  return Array.from({ length: units }, (_, i) => 1 - ((i + 1) / units) * (1 - lastKeep));
}
