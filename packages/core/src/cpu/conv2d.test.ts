import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { relativeError } from '../numeric';
import { Rng } from '../random';

/**
 * The project's convolution kernels against tfjs-backend-cpu's stock ones (an independent
 * implementation) on random inputs drawn fresh per run: forward, input gradient and filter
 * gradient, over strides, paddings, kernel sizes and channel counts that do not divide the SIMD
 * widths, on one thread and on two (above the size where work is split).
 */
type Case = { x: number[]; f: number[]; stride: number; pad: number | 'same' | 'valid' };

const CASES: Case[] = [
  { x: [2, 9, 9, 5], f: [3, 3, 5, 7], stride: 2, pad: 1 },
  { x: [3, 8, 8, 16], f: [3, 3, 16, 20], stride: 1, pad: 1 },
  { x: [2, 7, 7, 12], f: [1, 1, 12, 9], stride: 1, pad: 0 },
  { x: [2, 7, 7, 12], f: [1, 1, 12, 9], stride: 2, pad: 0 },
  { x: [2, 35, 35, 3], f: [7, 7, 3, 16], stride: 2, pad: 3 },
  { x: [2, 10, 11, 4], f: [3, 3, 4, 6], stride: 2, pad: 'same' },
  { x: [1, 6, 5, 1], f: [3, 3, 1, 1], stride: 1, pad: 'valid' },
  // Above the parallel threshold, so that two threads really split the work.
  { x: [6, 16, 16, 24], f: [3, 3, 24, 28], stride: 1, pad: 1 },
  { x: [5, 17, 17, 24], f: [3, 3, 24, 28], stride: 2, pad: 1 },
];

const seed = Date.now() % 1_000_000;
const rng = Rng.fromSeed(seed);
const random = (shape: number[]) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);

function run(c: Case, x: tf.Tensor, f: tf.Tensor, dy: tf.Tensor): Float32Array[] {
  const e = tf.engine();
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
  return [
    e.runKernel('Conv2D', { x, filter: f }, attrs) as tf.Tensor,
    e.runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape }) as tf.Tensor,
    e.runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape }) as tf.Tensor,
  ].map((t) => t.dataSync() as Float32Array);
}


afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe(`project CPU convolutions (random seed ${seed})`, () => {
  it.each([1, 2])('match the stock kernels on %i thread(s)', async (threads) => {
    await cpuBackendPlugin.setup({ kernels: 'stock' });
    const inputs = CASES.map((c) => {
      const x = random(c.x);
      const f = random(c.f);
      const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad);
      return { c, x, f, dy: random(y.shape) };
    });
    const expected = inputs.map(({ c, x, f, dy }) => run(c, x, f, dy));
    const info = await cpuBackendPlugin.setup({ kernels: 'project', threads });
    expect(info.detail).toContain(`on ${threads} thread`);
    inputs.forEach(({ c, x, f, dy }, i) => {
      const actual = run(c, x, f, dy);
      ['forward', 'input gradient', 'filter gradient'].forEach((what, k) => {
        expect(relativeError(actual[k], expected[i][k]), `${what} of ${JSON.stringify(c)}`).toBeLessThan(1e-5);
      });
    });
  });

  it('fall back to the stock kernel for what they do not cover (dilation)', async () => {
    const x = random([1, 9, 9, 2]);
    const f = random([3, 3, 2, 3]);
    await cpuBackendPlugin.setup({ kernels: 'stock' });
    const expected = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2).dataSync() as Float32Array;
    await cpuBackendPlugin.setup({ kernels: 'project', threads: 1 });
    expect(relativeError(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2).dataSync() as Float32Array, expected)).toBeLessThan(1e-6);
  });
});
