import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { SPATIAL_MEAN_GRAD, spatialMean } from './spatial-mean';
import { hasKernels } from './has-kernel';

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe('spatialMean, the global average pool', () => {
  it('averages each image and channel, and spreads dy / (H W) back to every pixel', async () => {
    await cpuBackendPlugin.setup({ kernels: 'project', threads: 1 });
    expect(hasKernels(SPATIAL_MEAN_GRAD)).toBe(true);
    // Channel c of image n holds n + c at every pixel of a 3 x 5 map: its mean is n + c.
    const x = tf.tidy(() => tf.add(tf.reshape(tf.range(0, 2), [2, 1, 1, 1]), tf.reshape(tf.range(0, 4), [1, 1, 1, 4])).tile([1, 3, 5, 1])) as tf.Tensor4D;
    expect(Array.from(spatialMean(x).dataSync())).toEqual([0, 1, 2, 3, 1, 2, 3, 4]);
    const weights = tf.tensor2d([[1, -2, 3, 4], [5, 6, -7, 8]]);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(spatialMean(input as tf.Tensor4D), weights)))(x);
    // By hand: every pixel of image n, channel c gets weights[n][c] / 15.
    const expected = Array.from({ length: 2 * 15 * 4 }, (_, i) => Math.fround(weights.arraySync()[Math.floor(i / 60)][i % 4] / 15));
    expect(Array.from(dx.dataSync())).toEqual(expected);
  });

  it("gives tfjs's own gradient of a mean bit for bit", async () => {
    const x = tf.randomNormal([3, 7, 6, 5], 0, 1, 'float32', 3) as tf.Tensor4D;
    const weights = tf.randomNormal([3, 5], 0, 1, 'float32', 4);
    const gradient = async (kernels: 'project' | 'stock') => {
      await cpuBackendPlugin.setup({ kernels, threads: 1 });
      return Array.from(tf.grad((input: tf.Tensor) => tf.sum(tf.mul(spatialMean(input as tf.Tensor4D), weights)))(x).dataSync());
    };
    expect(await gradient('project')).toEqual(await gradient('stock'));
  });
});
