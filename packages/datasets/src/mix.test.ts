import { Rng } from '@pyramid/core';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batches';
import { cutMix, cutout, mixup } from './mix';

const shape = { height: 8, width: 8, channels: 2 };
const pixels = 8 * 8 * 2;

/** Image b holds the value b + 1 everywhere, and label b, so every output pixel says where it came from. */
function constantBatch(size: number): Batch {
  const images = new Float32Array(size * pixels);
  for (let b = 0; b < size; b++) images.fill(b + 1, b * pixels, (b + 1) * pixels);
  return { images, labels: Int32Array.from({ length: size }, (_, b) => b), size, indices: Int32Array.from({ length: size }, (_, b) => b) };
}

/** The rows and columns of image b whose pixels (all channels) satisfy `test`, as a bounding box and a count. */
function region(batch: Batch, b: number, test: (v: number) => boolean) {
  let count = 0, y0 = Infinity, y1 = -1, x0 = Infinity, x1 = -1;
  for (let y = 0; y < shape.height; y++) {
    for (let x = 0; x < shape.width; x++) {
      const at = b * pixels + (y * shape.width + x) * shape.channels;
      const hits = [0, 1].map((c) => test(batch.images[at + c]));
      expect(hits[0]).toBe(hits[1]);
      if (!hits[0]) continue;
      count++;
      y0 = Math.min(y0, y); y1 = Math.max(y1, y + 1); x0 = Math.min(x0, x); x1 = Math.max(x1, x + 1);
    }
  }
  return { count, y0, y1, x0, x1 };
}

describe('Cutout', () => {
  it('zeroes a size x size square around a drawn centre, clipped at the borders', () => {
    // The reference draws the centre row then column, uniformly, and zeroes [c - L/2, c + L/2)
    // clipped to the image: the same draws from a twin stream give the expected box by hand.
    const batch = constantBatch(16);
    const rng = Rng.fromSeed(3);
    const twin = Rng.fromSeed(3);
    cutout(4)(batch, shape, rng);
    for (let b = 0; b < batch.size; b++) {
      const cy = twin.int(8), cx = twin.int(8);
      const want = { y0: Math.max(0, cy - 2), y1: Math.min(8, cy + 2), x0: Math.max(0, cx - 2), x1: Math.min(8, cx + 2) };
      const hole = region(batch, b, (v) => v === 0);
      expect(hole).toEqual({ count: (want.y1 - want.y0) * (want.x1 - want.x0), ...want });
      expect(region(batch, b, (v) => v === b + 1).count).toBe(64 - hole.count);
    }
  });
});

describe('mixup', () => {
  it('blends each image with its permuted partner by one lambda per batch, labels following', () => {
    const batch = constantBatch(10);
    const out = mixup(0.4)(batch, shape, Rng.fromSeed(4));
    const { lambda, labels } = out.mix!;
    expect(lambda).toBeGreaterThanOrEqual(0);
    expect(lambda).toBeLessThanOrEqual(1);
    expect([...labels].sort((a, b) => a - b)).toEqual([...batch.labels]);
    for (let b = 0; b < 10; b++) {
      // x = lambda * (b + 1) + (1 - lambda) * (partner + 1), partner = the mixed label.
      const want = lambda * (b + 1) + (1 - lambda) * (labels[b] + 1);
      for (let i = 0; i < pixels; i++) expect(out.images[b * pixels + i]).toBeCloseTo(want, 5);
    }
    expect(batch.images[0]).toBe(1); // the input batch is left as it was
  });

  it('draws lambda from Beta(alpha, alpha): mean 1/2, variance 1 / (4 (2 alpha + 1))', () => {
    const rng = Rng.fromSeed(5);
    const n = 4000, alpha = 0.2;
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const { lambda } = mixup(alpha)(constantBatch(2), shape, rng).mix!;
      s += lambda; s2 += lambda * lambda;
    }
    const variance = 1 / (4 * (2 * alpha + 1));
    expect(Math.abs(s / n - 0.5)).toBeLessThan(6 * Math.sqrt(variance / n));
    expect(Math.abs(s2 / n - (s / n) ** 2 - variance)).toBeLessThan(0.1 * variance);
  });
});

describe('CutMix', () => {
  it('pastes one box from the permuted batch into every image, lambda the share kept', () => {
    // The reference's rand_bbox by hand from a twin stream's draws (coin, Beta, permutation,
    // centre row, centre column): sides floor(8 sqrt(1 - lambda0)), the box [c - side/2, c + side/2)
    // clipped to the image; lambda = 1 - box area / 64.
    const rng = Rng.fromSeed(6);
    const twin = Rng.fromSeed(6);
    let boxes = 0;
    for (let trial = 0; trial < 50; trial++) {
      const out = cutMix(1)(constantBatch(6), shape, rng);
      twin.uniform();
      const side = Math.floor(8 * Math.sqrt(1 - twin.beta(1, 1)));
      const perm = twin.permutation(6);
      const cy = twin.int(8), cx = twin.int(8);
      const clip = (v: number) => Math.min(8, Math.max(0, v));
      const want = { y0: clip(cy - Math.floor(side / 2)), y1: clip(cy + Math.floor(side / 2)), x0: clip(cx - Math.floor(side / 2)), x1: clip(cx + Math.floor(side / 2)) };
      const area = (want.y1 - want.y0) * (want.x1 - want.x0);
      expect(out.mix!.labels).toEqual(perm);
      expect(out.mix!.lambda).toBeCloseTo(1 - area / 64, 12);
      for (let b = 0; b < 6; b++) {
        if (perm[b] === b) continue; // pasted from itself: unchanged
        const pasted = region(out, b, (v) => v === perm[b] + 1);
        expect(pasted.count).toBe(area);
        if (area) expect(pasted).toEqual({ count: area, ...want });
        expect(region(out, b, (v) => v === b + 1).count).toBe(64 - area);
      }
      if (area) boxes++;
    }
    expect(boxes).toBeGreaterThan(30);
  });

  it('mixes a batch with probability prob and leaves the others untouched', () => {
    const rng = Rng.fromSeed(7);
    let mixed = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const batch = constantBatch(2);
      const out = cutMix(0.5)(batch, shape, rng);
      if (out.mix) mixed++;
      else expect(out).toBe(batch);
    }
    expect(Math.abs(mixed - n / 2)).toBeLessThan(6 * Math.sqrt(n / 4));
  });

  it('refuses to mix a batch twice and says which options clash', () => {
    const once = mixup(1)(constantBatch(2), shape, Rng.fromSeed(8));
    expect(() => cutMix(1)(once, shape, Rng.fromSeed(9))).toThrow(/mixup or CutMix, not both/);
    expect(() => cutMix(1.5)).toThrow(/cutmix probability must be in \[0, 1\], got 1.5/);
    expect(() => cutout(0)).toThrow(/cutout size must be a positive integer/);
  });
});
