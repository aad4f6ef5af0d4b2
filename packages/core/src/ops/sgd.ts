import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { hasKernels } from './has-kernel';
import { SGD_MOMENTUM, SGD_APPLY, SGD_STEP, type SgdStepAttrs } from './kernel-names';

export { SGD_MOMENTUM, SGD_APPLY, SGD_STEP };

/**
 * One parameter's SGD update as torch.optim.SGD computes it, in two kernels so that a backend can
 * run it in two dispatches instead of about eight tfjs ops:
 * - PyramidSgdMomentum: inputs {param, grad, buffer}, attrs {momentum, dampening, weightDecay, first}
 *   -> b' = momentum * b + (1 - dampening) * g, with g = grad + weightDecay * param (b' = g when first).
 * - PyramidSgdApply: inputs {param, grad, buffer}, attrs {lr, momentum, weightDecay, nesterov}
 *   -> p' = p - lr * (nesterov ? g + momentum * b' : b'), with `buffer` holding b'.
 * Without the kernels the same arithmetic runs as tfjs ops. No gradient: this is no part of a model.
 */

export interface SgdUpdateOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** The first update, when the buffer starts as g itself. */
  first: boolean;
}

/** Updates `param` (and `buffer`, when momentum is used) in place. */
export function sgdUpdate(param: tf.Variable, grad: tf.Tensor, buffer: tf.Variable | null, o: SgdUpdateOptions): void {
  if (o.momentum > 0 && !buffer) throw new Error('sgdUpdate: momentum needs a buffer');
  if (hasKernels(SGD_MOMENTUM, SGD_APPLY) && buffer) {
    const next = tf.engine().runKernel(SGD_MOMENTUM, { param, grad, buffer }, { momentum: o.momentum, dampening: o.dampening, weightDecay: o.weightDecay, first: o.first }) as tf.Tensor;
    buffer.assign(next);
    next.dispose();
    const updated = tf.engine().runKernel(SGD_APPLY, { param, grad, buffer }, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov }) as tf.Tensor;
    param.assign(updated);
    updated.dispose();
    return;
  }
  tf.tidy(() => {
    let g = o.weightDecay > 0 ? tf.add(grad, tf.mul(param, o.weightDecay)) : grad;
    if (buffer) {
      const next = o.first || o.dampening === 0 ? tf.add(tf.mul(buffer, o.momentum), g) : tf.add(tf.mul(buffer, o.momentum), tf.mul(g, 1 - o.dampening));
      buffer.assign(o.first ? g : next);
      g = o.nesterov ? tf.add(g, tf.mul(buffer, o.momentum)) : buffer;
    }
    param.assign(tf.sub(param, tf.mul(g, o.lr)));
  });
}

export type SgdUpdateAllOptions = Omit<SgdUpdateOptions, 'weightDecay'> & {
  /** The weight decay of each parameter, in the order of `params`. */
  weightDecays: number[];
};

/**
 * `sgdUpdate` of every parameter (with its gradient and momentum buffer at the same index), in one
 * PyramidSgdStep kernel where the backend has it: a GPU backend then runs the whole update in a
 * dispatch or two instead of two per parameter. Without it, or without momentum, one parameter at
 * a time.
 */
export function sgdUpdateAll(params: tf.Variable[], grads: tf.Tensor[], buffers: (tf.Variable | null)[], o: SgdUpdateAllOptions): void {
  if (grads.length !== params.length || buffers.length !== params.length || o.weightDecays.length !== params.length) {
    throw new Error(`sgdUpdateAll: ${params.length} parameters, ${grads.length} gradients, ${buffers.length} buffers, ${o.weightDecays.length} weight decays`);
  }
  const withBuffers = buffers.every((b): b is tf.Variable => b !== null);
  if (params.length > 0 && withBuffers && o.momentum > 0 && hasKernels(SGD_STEP)) {
    const inputs: Record<string, tf.Tensor> = {};
    params.forEach((p, i) => {
      inputs[`param${i}`] = p;
      inputs[`grad${i}`] = grads[i];
      inputs[`buffer${i}`] = buffers[i]!;
    });
    const attrs: SgdStepAttrs = { count: params.length, lr: o.lr, momentum: o.momentum, dampening: o.dampening, nesterov: o.nesterov, first: o.first, weightDecays: o.weightDecays };
    const outputs = tf.engine().runKernel(SGD_STEP, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    params.forEach((p, i) => {
      p.assign(outputs[i]);
      buffers[i]!.assign(outputs[params.length + i]);
    });
    tf.dispose(outputs);
    return;
  }
  params.forEach((p, i) => sgdUpdate(p, grads[i], buffers[i], { ...o, weightDecay: o.weightDecays[i] }));
}
