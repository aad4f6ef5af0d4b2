import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, mixedCrossEntropy, topKHits } from './loss';

beforeAll(async () => {
  await useBackend('cpu', { kernels: 'stock' });
});

describe('crossEntropy', () => {
  it('is the mean negative log-softmax of the labels', () => {
    // By hand: logits (0, ln 3) give softmax (1/4, 3/4); labels 1 and 0 lose ln(4/3) and ln 4.
    const loss = crossEntropy(tf.tensor2d([[0, Math.log(3)], [0, Math.log(3)]]), tf.tensor1d([1, 0], 'int32'));
    expect(loss.dataSync()[0]).toBeCloseTo((Math.log(4 / 3) + Math.log(4)) / 2, 6);
  });

  it('smooths labels as torch.nn.CrossEntropyLoss(label_smoothing) does', () => {
    // eps 0.2, 2 classes: target (0.1, 0.9) for label 1: 0.1 * ln 4 + 0.9 * ln(4/3).
    const loss = crossEntropy(tf.tensor2d([[0, Math.log(3)]]), tf.tensor1d([1], 'int32'), 0.2);
    expect(loss.dataSync()[0]).toBeCloseTo(0.1 * Math.log(4) + 0.9 * Math.log(4 / 3), 6);
  });
});

describe('mixedCrossEntropy', () => {
  it('weighs the two labels of a mixed batch by lambda and 1 - lambda', () => {
    // By hand, softmax (1/4, 3/4) per row: lambda 0.3 on labels (1, 0), 0.7 on (0, 0):
    // 0.3 * (ln(4/3) + ln 4) / 2 + 0.7 * ln 4.
    const logits = tf.tensor2d([[0, Math.log(3)], [0, Math.log(3)]]);
    const loss = mixedCrossEntropy(logits, tf.tensor1d([1, 0], 'int32'), tf.tensor1d([0, 0], 'int32'), 0.3);
    expect(loss.dataSync()[0]).toBeCloseTo((0.3 * (Math.log(4 / 3) + Math.log(4))) / 2 + 0.7 * Math.log(4), 6);
  });
});

describe('topKHits', () => {
  it('counts a hit when the label is among the k largest logits', () => {
    const logits = Float32Array.from([0.1, 0.5, 0.2, 0.9, 0.3, 0.0]);
    expect(topKHits(logits, [1, 1], 3, 1)).toEqual([true, false]);
    expect(topKHits(logits, [2, 1], 3, 2)).toEqual([true, true]);
  });
});
