import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { hasKernels } from './has-kernel';
import { BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_GRAD_INPUT } from './kernel-names';

export { BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_GRAD_INPUT };

/**
 * Batch normalisation in training mode as one op, so that a backend can run it as one kernel:
 *   y = (x - mean) / sqrt(var + eps) * scale + offset,  mean and var (biased) over all axes but the last,
 * optionally followed by a ReLU (the BN-ReLU pair inside every pyramidal unit).
 * Its kernels and their contracts: BATCH_NORM_TRAINING, BATCH_NORM_GRAD_PARAMS and
 * BATCH_NORM_GRAD_INPUT in kernel-names.ts. With relu, y (the op's output) masks dy: the ReLU's gradient.
 * Without the kernels, the same maths runs as tfjs ops. The mean and variance outputs serve the
 * running statistics only: no gradient flows back through them.
 */

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'params'],
    outputsToSave: [true, true, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = (dys as tf.Tensor[])[0];
      const [x, params, output, mean, variance] = saved;
      const y: tf.NamedTensorMap = (attrs as { relu?: boolean }).relu ? { y: output } : {};
      // tfjs calls the thunks in input order, params first (see the inputs below), and keeps the
      // returned gradient alive, so the input gradient can reuse the parameter sums.
      let dParams: tf.Tensor | null = null;
      return {
        params: () => (dParams = tf.engine().runKernel(BATCH_NORM_GRAD_PARAMS, { dy, x, mean, variance, ...y }, attrs) as tf.Tensor),
        x: () =>
          tf.engine().runKernel(
            BATCH_NORM_GRAD_INPUT,
            dParams && !dParams.isDisposed ? { dy, x, params, mean, variance, ...y, dParams } : { dy, x, params, mean, variance, ...y },
            attrs,
          ) as tf.Tensor,
      };
    },
  });
}

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
  registerGradient();
  const params = tf.stack([scale, offset]);
  // params before x: the gradient's thunks run in this order.
  const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { params, x }, { epsilon, relu }) as tf.Tensor[];
  return { y: y as tf.Tensor4D, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}
