import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { Rng } from '../random';

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe('the project FusedBatchNorm kernel (inference)', () => {
  it('matches the stock kernel, with and without scale and offset', async () => {
    const seed = Date.now() % 1_000_000;
    const rng = Rng.fromSeed(seed);
    const draw = (shape: number[], mean = 0) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), mean), shape);
    const x = draw([4, 9, 9, 13], 2) as tf.Tensor4D;
    const mean = draw([13]) as tf.Tensor1D;
    const variance = tf.abs(draw([13], 1)) as tf.Tensor1D;
    const offset = draw([13]) as tf.Tensor1D;
    const scale = draw([13]) as tf.Tensor1D;
    const cases = [
      () => tf.batchNorm4d(x, mean, variance, offset, scale, 1e-5),
      () => tf.batchNorm4d(x, mean, variance, undefined, undefined, 1e-3),
    ];
    await cpuBackendPlugin.setup({ kernels: 'stock' });
    const expected = cases.map((c) => c().dataSync());
    for (const threads of [1, 2]) {
      await cpuBackendPlugin.setup({ kernels: 'project', threads });
      cases.forEach((c, i) => {
        const actual = c().dataSync();
        let diff = 0;
        actual.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - expected[i][j]) / Math.max(1, Math.abs(expected[i][j])))));
        expect(diff, `case ${i}, ${threads} thread(s), seed ${seed}`).toBeLessThan(1e-5);
      });
    }
  });
});
