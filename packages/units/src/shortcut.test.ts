import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Shortcut } from './shortcut';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('zero-padded shortcut', () => {
  it('appends zero channels after the input channels', () => {
    const shortcut = new Shortcut('zero-pad', 2, 3, 1, Rng.fromSeed(0));
    const y = shortcut.addTo(tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, tf.tensor4d([1, 2], [1, 1, 1, 2]), { training: false });
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
    const y = shortcut.addTo(tf.zeros([2, 3, 3, 3]) as tf.Tensor4D, tf.ones([2, 5, 5, 2]) as tf.Tensor4D, { training: true });
    expect(y.shape).toEqual([2, 3, 3, 3]);
  });

  it('refuses to narrow', () => {
    expect(() => new Shortcut('zero-pad', 4, 3, 1, Rng.fromSeed(0))).toThrow(/cannot narrow 4 to 3/);
  });
});
