import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { Rng } from '../random';
import { shortcutAdd } from './shortcut-add';

// Each behaviour is checked with the tfjs-op composition ('stock': no fused kernel) and with the
// project's fused CPU kernel, on one thread and on two.
const MODES = [
  ['composite ops', { kernels: 'stock' as const }],
  ['fused kernel, 1 thread', { kernels: 'project' as const, threads: 1 }],
  ['fused kernel, 2 threads', { kernels: 'project' as const, threads: 2 }],
] as const;

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe.each(MODES)('shortcutAdd with %s', (_, options) => {
  it("pools 2x2 windows with PyTorch's ceil mode and appends zero channels", async () => {
    await cpuBackendPlugin.setup(options);
    // 3x3 input 1..9: ceil-mode windows {1,2,4,5}, {3,6}, {7,8}, {9} average to 3, 4.5, 7.5, 9;
    // the residual (10 per pixel, 2 channels) gets them on channel 0 and nothing on channel 1.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const residual = tf.fill([1, 2, 2, 2], 10) as tf.Tensor4D;
    expect(Array.from(shortcutAdd(residual, x, 2).dataSync())).toEqual([13, 10, 14.5, 10, 17.5, 10, 19, 10]);
  });

  it('passes the gradient to the residual unchanged and to x through the pool', async () => {
    await cpuBackendPlugin.setup(options);
    // d/dx of sum(out * r) on channel 0 of r: a pixel of a full 2x2 window gets r / 4, of a
    // two-pixel edge window r / 2, the lone corner pixel r (PyTorch's ceil-mode gradient too).
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const residual = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D;
    const r = tf.tensor4d([1, -1, 10, -1, 100, -1, 1000, -1], [1, 2, 2, 2]);
    const [dr, dx] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(shortcutAdd(a as tf.Tensor4D, b as tf.Tensor4D, 2), r)))([residual, x]);
    expect(Array.from(dx.dataSync())).toEqual([0.25, 0.25, 5, 0.25, 0.25, 5, 50, 50, 1000]);
    expect(Array.from(dr.dataSync())).toEqual(Array.from(r.dataSync()));
  });
});

describe('the fused shortcut kernel', () => {
  it('agrees with the composite ops on random odd and even shapes', async () => {
    const seed = Date.now() % 1_000_000;
        const cases = [
      { x: [3, 9, 8, 5], co: 7, stride: 2 as const },
      { x: [2, 16, 16, 12], co: 12, stride: 2 as const },
      { x: [4, 33, 33, 6], co: 11, stride: 2 as const },
      { x: [8, 32, 32, 17], co: 21, stride: 1 as const },
    ];
    const results: Float32Array[][][] = [];
    for (const options of [{ kernels: 'stock' as const }, { kernels: 'project' as const, threads: 2 }]) {
      await cpuBackendPlugin.setup(options);
      results.push(
        cases.map((c) => {
          const r = Rng.fromSeed(seed + c.x[1]);
          const draw = (shape: number[]): tf.Tensor4D => tf.tensor4d(r.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape as [number, number, number, number]);
          const x = draw(c.x);
          const oh = c.stride === 2 ? Math.ceil(c.x[1] / 2) : c.x[1];
          const ow = c.stride === 2 ? Math.ceil(c.x[2] / 2) : c.x[2];
          const residual = draw([c.x[0], oh, ow, c.co]);
          const weights = draw([c.x[0], oh, ow, c.co]);
          const out = shortcutAdd(residual, x, c.stride).dataSync() as Float32Array;
          const [, dx] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(shortcutAdd(a as tf.Tensor4D, b as tf.Tensor4D, c.stride), weights)))([residual, x]);
          return [out, dx.dataSync() as Float32Array];
        }),
      );
    }
    cases.forEach((c, i) => {
      for (const k of [0, 1]) {
        const [a, b] = [results[0][i][k], results[1][i][k]];
        let diff = 0;
        a.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - b[j]))));
        expect(diff, `${k ? 'gradient' : 'output'} of ${JSON.stringify(c)} (seed ${seed})`).toBeLessThan(1e-5);
      }
    });
  });
});
