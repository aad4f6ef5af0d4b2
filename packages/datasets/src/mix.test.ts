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

/**
 * A random source that hands out the given draws in order, so that expected outputs can be worked
 * out by hand from known draws; it fails on a draw it was not given and checks every range.
 */
function scripted(draws: { int?: number[]; uniform?: number[]; beta?: number[]; permutation?: number[][] }) {
  const take = <T>(kind: keyof typeof draws): T => {
    const list = draws[kind] as T[] | undefined;
    if (!list?.length) throw new Error(`unexpected ${kind} draw`);
    return list.shift()!;
  };
  const rng = {
    int: (n: number) => {
      const v = take<number>('int');
      expect(v >= 0 && v < n, `int(${n}) scripted as ${v}`).toBe(true);
      return v;
    },
    uniform: () => take<number>('uniform'),
    beta: () => take<number>('beta'),
    permutation: (n: number) => {
      const p = take<number[]>('permutation');
      expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      return Int32Array.from(p);
    },
  };
  return { rng: rng as unknown as Rng, used: () => Object.values(draws).every((list) => list.length === 0) };
}

describe('Cutout', () => {
  it('zeroes a size x size square around the drawn centre (row, then column), clipped at the borders', () => {
    // Centres (4, 4), (0, 7) and (7, 0) with size 4 on 8x8 images; by hand, rows and columns
    // [c - 2, c + 2) clipped to [0, 8): rows 2-5 x columns 2-5; rows 0-1 x columns 5-7;
    // rows 5-7 x columns 0-1.
    const batch = constantBatch(3);
    const { rng, used } = scripted({ int: [4, 4, 0, 7, 7, 0] });
    cutout(4)(batch, shape, rng);
    expect(used()).toBe(true);
    const holes = [0, 1, 2].map((b) => region(batch, b, (v) => v === 0));
    expect(holes).toEqual([
      { count: 16, y0: 2, y1: 6, x0: 2, x1: 6 },
      { count: 6, y0: 0, y1: 2, x0: 5, x1: 8 },
      { count: 6, y0: 5, y1: 8, x0: 0, x1: 2 },
    ]);
    holes.forEach((hole, b) => expect(region(batch, b, (v) => v === b + 1).count).toBe(64 - hole.count));
  });

  it('cuts one rectangle per image, whole size x size unless it meets a border', () => {
    // Drawn by a real stream: whatever the centres, each hole is a filled rectangle of at most
    // 4 x 4, exactly 4 x 4 when it touches no border.
    const batch = constantBatch(64);
    cutout(4)(batch, shape, Rng.fromSeed(3));
    let whole = 0;
    for (let b = 0; b < batch.size; b++) {
      const hole = region(batch, b, (v) => v === 0);
      const [h, w] = [hole.y1 - hole.y0, hole.x1 - hole.x0];
      expect(hole.count).toBe(h * w);
      expect(h <= 4 && w <= 4).toBe(true);
      if (hole.y0 > 0 && hole.x0 > 0 && hole.y1 < 8 && hole.x1 < 8) {
        expect([h, w]).toEqual([4, 4]);
        whole++;
      }
    }
    // Centres in rows and columns 2..5 (of 0..7) leave a whole square: about (4/8)^2 of 64 images.
    expect(whole).toBeGreaterThan(4);
    expect(whole).toBeLessThan(40);
  });
});

describe('mixup', () => {
  it('blends image b with image perm[b] by the drawn lambda', () => {
    // lambda 0.25, permutation [2, 0, 1]: images hold 1, 2, 3, so by hand
    // 0.25 * 1 + 0.75 * 3 = 2.5, 0.25 * 2 + 0.75 * 1 = 1.25, 0.25 * 3 + 0.75 * 2 = 2.25.
    const { rng, used } = scripted({ beta: [0.25], permutation: [[2, 0, 1]] });
    const batch = constantBatch(3);
    const out = mixup(1)(batch, shape, rng);
    expect(used()).toBe(true);
    for (const [b, want] of [2.5, 1.25, 2.25].entries()) expect(out.images.subarray(b * pixels, (b + 1) * pixels).every((v) => v === want)).toBe(true);
    expect(out.mix).toEqual({ lambda: 0.25, labels: Int32Array.from([2, 0, 1]) });
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
  it('pastes the box of the drawn centre and size from the permuted partner, lambda the share kept', () => {
    // Draws: coin 0.2 (< 1: mix), Beta 0.75, permutation [1, 2, 0], centre (3, 6). By hand, the
    // reference's rand_bbox: sides floor(8 sqrt(1 - 0.75)) = 4, rows [3 - 2, 3 + 2) = 1-4,
    // columns [6 - 2, 6 + 2) = 4-7; lambda = 1 - 16 / 64 = 0.75.
    const { rng, used } = scripted({ uniform: [0.2], beta: [0.75], permutation: [[1, 2, 0]], int: [3, 6] });
    const out = cutMix(1)(constantBatch(3), shape, rng);
    expect(used()).toBe(true);
    expect(out.mix).toEqual({ lambda: 0.75, labels: Int32Array.from([1, 2, 0]) });
    [1, 2, 0].forEach((partner, b) => {
      expect(region(out, b, (v) => v === partner + 1)).toEqual({ count: 16, y0: 1, y1: 5, x0: 4, x1: 8 });
      expect(region(out, b, (v) => v === b + 1).count).toBe(48);
    });
  });

  it('clips a box at the borders and counts only the pixels pasted', () => {
    // Beta 0.19: sides floor(8 * 0.9) = 7, half 3; centre (0, 1): rows [-3, 3) -> 0-2, columns
    // [-2, 4) -> 0-3, 12 pixels; lambda = 1 - 12 / 64 = 0.8125.
    const { rng, used } = scripted({ uniform: [0], beta: [0.19], permutation: [[1, 0]], int: [0, 1] });
    const out = cutMix(0.5)(constantBatch(2), shape, rng);
    expect(used()).toBe(true);
    expect(out.mix!.lambda).toBe(0.8125);
    expect(region(out, 0, (v) => v === 2)).toEqual({ count: 12, y0: 0, y1: 3, x0: 0, x1: 4 });
  });

  it('leaves the batch as it is when the coin is not below prob', () => {
    // The reference mixes when r < prob: 0.5 with prob 0.5 does not.
    const batch = constantBatch(2);
    const { rng, used } = scripted({ uniform: [0.5] });
    expect(cutMix(0.5)(batch, shape, rng)).toBe(batch);
    expect(used()).toBe(true);
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
