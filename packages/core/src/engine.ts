import * as tf from '@tensorflow/tfjs-core';
// Bundled at build time (see tsup.config.ts): tfjs-core's Node entry registers neither.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

/** Kernels whose gradients PyramidNet training relies on; checked by `engineReport`. */
const TRAINING_KERNELS = [
  'Conv2D', 'FusedBatchNorm', 'Relu', 'AvgPool', 'MaxPool', 'PadV2', 'Add', 'Mean',
  'BatchMatMul', 'Sum', 'Sub', 'Multiply', 'Reshape', 'Max', 'Exp', 'Log', 'Concat',
] as const;

export interface EngineReport {
  tfjsVersion: string;
  backend: string | null;
  gradientsRegistered: boolean;
  chainedOpsRegistered: boolean;
  missingGradients: string[];
}

/** What the shared engine offers right now: used by tests and `pyramid backends --json`. */
export function engineReport(): EngineReport {
  const missingGradients = TRAINING_KERNELS.filter((name) => tf.getGradient(name) == null);
  const probe = tf.tensor1d([1]);
  const chainedOpsRegistered = typeof (probe as unknown as { add?: unknown }).add === 'function';
  probe.dispose();
  let backend: string | null = null;
  try {
    backend = tf.getBackend() ?? null;
  } catch {
    backend = null;
  }
  return {
    tfjsVersion: tf.version_core,
    backend,
    gradientsRegistered: missingGradients.length === 0,
    chainedOpsRegistered,
    missingGradients,
  };
}

/**
 * Runs `fn` and reports how many tensors it left behind. Used to hold every training and
 * inference path to a flat tensor count.
 */
export async function countLeakedTensors(fn: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}
