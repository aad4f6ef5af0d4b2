import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { hasKernels } from './has-kernel';
import { BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_GRAD_INPUT, BATCH_NORM_RUNNING_STATS, type BatchNormRunningStatsAttrs } from './kernel-names';

export { BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_GRAD_INPUT, BATCH_NORM_RUNNING_STATS };

/**
 * Batch normalisation in training mode as one op, so that a backend can run it as one kernel:
 *   y = (x - mean) / sqrt(var + eps) * scale + offset,  mean and var (biased) over all axes but the last,
 * optionally followed by a ReLU (the BN-ReLU pair inside every pyramidal unit).
 * Its kernels and their contracts: BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS and
 * BATCH_NORM_GRAD_INPUT in kernel-names.ts. With relu, y (the op's output) masks dy: the ReLU's gradient.
 * Without the kernels, the same maths runs as tfjs ops. The mean and variance outputs serve the
 * running statistics only: no gradient flows back through them.
 */

export interface BatchNormTrainingResult {
  y: tf.Tensor4D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Training-mode batch norm of NHWC `x` with per-channel `scale` and `offset`, then ReLU if asked. */
export function batchNormTraining(x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number, relu = false): BatchNormTrainingResult {
  if (!hasKernels(BATCH_NORM_TRAINING)) {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const normalized = tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, offset, scale, epsilon);
    return { y: relu ? tf.relu(normalized) : normalized, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const params = tf.stack([scale, offset]);
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  // A custom gradient rather than a registered one so that the output is kept for the backward
  // pass only when a ReLU needs it as its mask: without the ReLU it is the shortcut's input, and
  // saving it would hold one more activation per unit until the backward pass reaches it.
  const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, stacked, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, batchMean, batchVariance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { params: stacked, x: input }, { epsilon, relu }) as tf.Tensor[];
    mean = tf.keep(batchMean as tf.Tensor1D);
    variance = tf.keep(batchVariance as tf.Tensor1D);
    save(relu ? [input, stacked, batchMean, batchVariance, y] : [input, stacked, batchMean, batchVariance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, savedParams, savedMean, savedVariance, savedY] = saved;
        const mask: tf.NamedTensorMap = savedY ? { y: savedY } : {};
        const attrs = { epsilon, relu };
        const inputs = { dy, x: savedX, mean: savedMean, variance: savedVariance, ...mask };
        const dParams = tf.engine().runKernel(BATCH_NORM_GRAD_PARAMS, inputs, attrs) as tf.Tensor;
        const dx = tf.engine().runKernel(BATCH_NORM_GRAD_INPUT, { ...inputs, params: savedParams, dParams }, attrs) as tf.Tensor;
        return [dx, dParams];
      },
    };
  });
  const y = normalize(x, params) as tf.Tensor4D;
  // The statistics were kept to leave the custom gradient's scope; clones put them back in the
  // caller's, which then disposes them as it does the output.
  const [outMean, outVariance] = [tf.clone(mean), tf.clone(variance)];
  tf.dispose([mean, variance]);
  return { y, mean: outMean, variance: outVariance };
}

/**
 * Updates a batch norm's running statistics in place from one batch's `mean` and biased `variance`
 * over `count` values per channel, as PyTorch does: running' = (1 - momentum) running + momentum
 * batch, the variance unbiased. One kernel (BATCH_NORM_RUNNING_STATS) where the backend has it,
 * instead of four multiplies and two adds, each with a scalar to upload.
 */
export function updateRunningStatistics(runningMean: tf.Variable, runningVar: tf.Variable, mean: tf.Tensor, variance: tf.Tensor, momentum: number, count: number): void {
  const unbias = count > 1 ? count / (count - 1) : 1;
  let newMean: tf.Tensor;
  let newVar: tf.Tensor;
  if (hasKernels(BATCH_NORM_RUNNING_STATS)) {
    const attrs: BatchNormRunningStatsAttrs = { momentum, unbias };
    [newMean, newVar] = tf.engine().runKernel(BATCH_NORM_RUNNING_STATS, { runningMean, runningVar, mean, variance }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  } else {
    [newMean, newVar] = tf.tidy(() => [
      tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)),
      tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(variance, momentum * unbias)),
    ]);
  }
  runningMean.assign(newMean);
  runningVar.assign(newVar);
  newMean.dispose();
  newVar.dispose();
}
