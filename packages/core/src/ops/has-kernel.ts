import * as tf from '@tensorflow/tfjs-core';

/** Whether the active backend registers every one of these kernels (else an op composes tfjs ops). */
export function hasKernels(...names: string[]): boolean {
  const backend = tf.getBackend();
  return backend != null && names.every((name) => tf.getKernel(name, backend) != null);
}
