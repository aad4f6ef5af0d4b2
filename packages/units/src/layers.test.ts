import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d } from './layers';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('BatchNorm2d', () => {
  it('normalises with the biased batch variance in training mode', () => {
    // One channel, values 1, 2, 3, 6: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
    const bn = new BatchNorm2d(1);
    const y = bn.forward(tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]), { training: true });
    const expected = [1, 2, 3, 6].map((v) => (v - 3) / Math.sqrt(3.5 + 1e-5));
    y.dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('updates running statistics with momentum 0.1 and the unbiased variance, as PyTorch', () => {
    // Unbiased variance of 1, 2, 3, 6 is 14 / 3. running_mean = 0.9 * 0 + 0.1 * 3 = 0.3,
    // running_var = 0.9 * 1 + 0.1 * 14 / 3 = 1.3666...
    const bn = new BatchNorm2d(1);
    bn.forward(tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]), { training: true });
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.3, 6);
    expect(bn.runningVar.dataSync()[0]).toBeCloseTo(0.9 + 0.1 * (14 / 3), 6);
    expect(bn.batchesTracked).toBe(1);
  });

  it('uses the running statistics in eval mode', () => {
    const bn = new BatchNorm2d(1);
    bn.runningMean.assign(tf.tensor1d([2]));
    bn.runningVar.assign(tf.tensor1d([4]));
    const y = bn.forward(tf.tensor4d([2, 4], [1, 1, 2, 1]), { training: false });
    expect(y.dataSync()[0]).toBeCloseTo(0, 6);
    expect(y.dataSync()[1]).toBeCloseTo(2 / Math.sqrt(4 + 1e-5), 6);
  });
});

describe('Conv2d', () => {
  it('pads symmetrically like PyTorch, also at stride 2', () => {
    // A 4x4 input of ones and a 3x3 kernel of ones, stride 2, padding 1: PyTorch's output is 2x2
    // with windows centred on (0,0), (0,2), (2,0), (2,2), covering 4, 6, 6 and 9 input pixels.
    // tfjs 'same' would centre them on (1,1)... and give 9, 6, 6, 4.
    const conv = new Conv2d(1, 1, 3, 2, 1, Rng.fromSeed(0));
    conv.weight.assign(tf.ones([3, 3, 1, 1]));
    const y = conv.forward(tf.ones([1, 4, 4, 1]) as tf.Tensor4D);
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(y.dataSync())).toEqual([4, 6, 6, 9]);
  });

  it('draws He-normal weights with std sqrt(2 / (k * k * out))', () => {
    const conv = new Conv2d(64, 64, 3, 1, 1, Rng.fromSeed(1));
    const w = conv.weight.dataSync();
    let s = 0, s2 = 0;
    for (const v of w) {
      s += v;
      s2 += v * v;
    }
    const std = Math.sqrt(s2 / w.length - (s / w.length) ** 2);
    const expected = Math.sqrt(2 / (9 * 64));
    // 36,864 draws: the sample std is within 2% of the true one with overwhelming probability.
    expect(Math.abs(std / expected - 1)).toBeLessThan(0.02);
  });
});
