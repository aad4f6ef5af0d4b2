import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { hasKernels } from './has-kernel';
import { SPATIAL_MEAN_GRAD, type SpatialMeanGradAttrs } from './kernel-names';

export { SPATIAL_MEAN_GRAD };

/**
 * The global average pool of NHWC `x`: the mean over height and width, -> [N, C]. Where a backend
 * has SPATIAL_MEAN_GRAD, its gradient is that one kernel: tfjs's own gradient of a mean broadcasts
 * dy through the generic broadcasting multiply and divide, which on the CPU backend cost more
 * than the rest of the network's head (about 0.2 s of a batch-128 PyramidNet-110 step).
 */
export function spatialMean(x: tf.Tensor4D): tf.Tensor2D {
  if (!hasKernels(SPATIAL_MEAN_GRAD)) return tf.mean(x, [1, 2]) as tf.Tensor2D;
  const [, height, width] = x.shape;
  const pool = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.mean(args[0] as tf.Tensor, [1, 2]),
    gradFunc: (dy: tf.Tensor) => {
      const attrs: SpatialMeanGradAttrs = { height, width };
      return tf.engine().runKernel(SPATIAL_MEAN_GRAD, { dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    },
  }));
  return pool(x) as tf.Tensor2D;
}
