import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { Rng } from '../random';

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe('Mean over the spatial axes on the project CPU kernels', () => {
  it('averages each image and channel as the definition does, with and without kept dimensions', async () => {
    await cpuBackendPlugin.setup({ kernels: 'project', threads: 2 });
    const [N, H, W, C] = [3, 5, 4, 7];
    const values = Rng.fromSeed(3).fork('mean').fillNormal(new Float32Array(N * H * W * C));
    const expected = new Float64Array(N * C);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) expected[n * C + c] += values[(n * H * W + p) * C + c] / (H * W);
    const x = tf.tensor4d(values, [N, H, W, C]);
    const kept = tf.mean(x, [2, 1], true);
    expect(kept.shape).toEqual([N, 1, 1, C]);
    const flat = tf.mean(x, [-3, -2]).dataSync();
    for (let i = 0; i < N * C; i++) expect(flat[i]).toBeCloseTo(expected[i], 6);
    expect(Array.from(kept.dataSync())).toEqual(Array.from(flat));
    // Other axes: the stock kernel, same definition.
    expect(tf.mean(x, 3).shape).toEqual([N, H, W]);
    expect(tf.mean(x).dataSync()[0]).toBeCloseTo(expected.reduce((a, b) => a + b, 0) / (N * C), 6);
  });
});
