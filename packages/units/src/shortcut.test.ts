import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Shortcut, downsampleAverage } from './shortcut';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('zero-padded shortcut', () => {
  it("averages 2x2 windows with PyTorch's ceil_mode on odd sizes", () => {
    // 3x3 input 1..9. ceil_mode gives 2x2 windows {1,2,4,5}, {3,6}, {7,8}, {9}, each averaged
    // over the pixels it covers: 3, 4.5, 7.5, 9.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    expect(Array.from(downsampleAverage(x).dataSync())).toEqual([3, 4.5, 7.5, 9]);
  });

  it('appends zero channels after the input channels', () => {
    const shortcut = new Shortcut('zero-pad', 2, 3, 1, Rng.fromSeed(0));
    const y = shortcut.forward(tf.tensor4d([1, 2], [1, 1, 1, 2]), { training: false });
    expect(y.shape).toEqual([1, 1, 1, 3]);
    expect(Array.from(y.dataSync())).toEqual([1, 2, 0]);
    expect(shortcut.namedTensors()).toEqual([]);
  });

  it('projects with a 1x1 convolution and BN when asked', () => {
    const shortcut = new Shortcut('projection', 2, 3, 2, Rng.fromSeed(0));
    expect(shortcut.namedTensors().map((t) => `${t.name}:${t.variable.shape.join('x')}`)).toEqual([
      'conv.weight:1x1x2x3',
      'bn.weight:3',
      'bn.bias:3',
      'bn.running_mean:3',
      'bn.running_var:3',
    ]);
    const y = shortcut.forward(tf.ones([2, 5, 5, 2]) as tf.Tensor4D, { training: true });
    expect(y.shape).toEqual([2, 3, 3, 3]);
  });

  it('refuses to narrow', () => {
    expect(() => new Shortcut('zero-pad', 4, 3, 1, Rng.fromSeed(0))).toThrow(/cannot narrow 4 to 3/);
  });
});

describe('downsampleAverage gradient', () => {
  it('matches finite differences on odd sizes, partial windows included', () => {
    // By hand: d/dx of sum(pool(x) * r) for the lone pixel of the corner window of a 3x3 input
    // is r[corner] (average over one pixel); for a pixel of a full window it is r / 4.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const r = tf.tensor4d([1, 10, 100, 1000], [1, 2, 2, 1]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(downsampleAverage(t as tf.Tensor4D), r)))(x);
    expect(Array.from(g.dataSync())).toEqual([0.25, 0.25, 5, 0.25, 0.25, 5, 50, 50, 1000]);
  });
});
