import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { hasKernels } from './has-kernel';
import { CONV_BATCH_NORM } from './kernel-names';

export { CONV_BATCH_NORM };

/**
 * Inference-mode convolution followed by batch norm with given statistics, then ReLU if asked:
 * the conv-BN pairs of every pyramidal unit in eval mode, as one op so that a backend can fold the
 * batch norm into the convolution (w' = w a, bias b = offset - mean a, a = scale / sqrt(var + eps))
 * and write the output once.
 * Its kernel and contract: CONV_BATCH_NORM in kernel-names.ts (numeric padding is symmetric).
 * Without the kernel, or while gradients are being recorded (it has none), tfjs ops compute it.
 */

export interface BatchNormStatistics {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  scale: tf.Tensor1D;
  offset: tf.Tensor1D;
  epsilon: number;
}

function recordingGradients(): boolean {
  return ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;
}

export function conv2dBatchNorm(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, pad: number | 'same' | 'valid', bn: BatchNormStatistics, relu = false): tf.Tensor4D {
  if (!recordingGradients() && hasKernels(CONV_BATCH_NORM)) {
    const { mean, variance, scale, offset, epsilon } = bn;
    return tf.engine().runKernel(CONV_BATCH_NORM, { x, filter, mean, variance, scale, offset }, { strides: stride, pad, epsilon, relu }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const y = tf.batchNorm4d(tf.conv2d(x, filter, stride, pad), bn.mean, bn.variance, bn.offset, bn.scale, bn.epsilon);
    return relu ? tf.relu(y) : y;
  });
}
