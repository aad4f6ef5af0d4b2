import { Rng } from '@pyramid/core';
import { describe, expect, it } from 'vitest';
import { batches } from './batches';
import { type ImageDataset, channelStatistics, stratifiedSplit, validateDataset } from './dataset';

function toy(n: number, classes: number): ImageDataset {
  // Each image carries its index in its first two pixels, so that splits can be traced.
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    images[i * 4] = i >> 8;
    images[i * 4 + 1] = i & 255;
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return { name: 'toy', shape: { height: 2, width: 2, channels: 1 }, classNames: Array.from({ length: classes }, (_, i) => `c${i}`), images, labels, normalization: { mean: [0], std: [1], scale: 1 } };
}

describe('datasets', () => {
  it('compute per-channel mean and standard deviation', () => {
    // Two channels: (0, 10), (2, 10), (4, 10): means 2 and 10, population stds sqrt(8/3) and 0.
    const stats = channelStatistics(new Uint8Array([0, 10, 2, 10, 4, 10]), 2);
    expect(stats.mean).toEqual([2, 10]);
    expect(stats.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(stats.std[1]).toBe(0);
  });

  it('split each class in the same proportion, without overlap', () => {
    const data = toy(1000, 10);
    const { train, test } = stratifiedSplit(data, 0.2, Rng.fromSeed(1));
    expect(test.labels.length).toBe(200);
    for (let c = 0; c < 10; c++) expect(test.labels.filter((l) => l === c).length).toBe(20);
    const ids = (d: ImageDataset) => Array.from({ length: d.labels.length }, (_, i) => d.images[i * 4] * 256 + d.images[i * 4 + 1]);
    const all = [...ids(train), ...ids(test)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (const [i, id] of ids(test).entries()) expect(test.labels[i]).toBe(id % 10);
  });

  it('give the same split for the same seed', () => {
    const a = stratifiedSplit(toy(100, 4), 0.25, Rng.fromSeed(9)).test.images;
    const b = stratifiedSplit(toy(100, 4), 0.25, Rng.fromSeed(9)).test.images;
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('reject a label out of range, naming the image', () => {
    const data = toy(3, 2);
    data.labels[2] = 5;
    expect(() => validateDataset(data)).toThrow('toy: label 5 of image 2 is out of range for 2 classes');
  });
});

describe('batches', () => {
  it('visit every image once per epoch, in a seeded order', () => {
    const data = toy(10, 2);
    const seen = [...batches(data, { batchSize: 4, rng: Rng.fromSeed(3) })].flatMap((b) => Array.from(b.indices));
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = [...batches(data, { batchSize: 4, rng: Rng.fromSeed(3) })].flatMap((b) => Array.from(b.indices));
    expect(again).toEqual(seen);
    expect([...batches(data, { batchSize: 4, dropLast: true })].map((b) => b.size)).toEqual([4, 4]);
  });

  it('normalise pixels as (x / scale - mean) / std', () => {
    const data = toy(1, 1);
    data.images.set([0, 51, 102, 255]);
    const [batch] = [...batches(data, { batchSize: 1, normalization: { mean: [0.5], std: [0.25], scale: 255 } })];
    [-2, -1.2, -0.4, 2].forEach((v, i) => expect(batch.images[i]).toBeCloseTo(v, 6));
  });
});
