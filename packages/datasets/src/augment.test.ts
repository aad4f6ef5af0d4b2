import { Rng } from '@pyramid/core';
import { describe, expect, it } from 'vitest';
import { randomCrop, randomHorizontalFlip } from './augment';

const shape = { height: 3, width: 3, channels: 1 };
const image = () => Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);

describe('augmentation', () => {
  it('crops a zero-padded image at every offset in [-pad, pad] with equal odds', () => {
    // With pad 1 there are 9 offsets; each must appear, and the image shifted by (dy, dx) reads
    // pixel (y + dy, x + dx) or 0 outside, by hand.
    const seen = new Map<string, number>();
    const rng = Rng.fromSeed(1);
    for (let i = 0; i < 9000; i++) {
      const px = image();
      randomCrop(1)(px, shape, rng);
      const key = Array.from(px).join(',');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(seen.size).toBe(9);
    expect(seen.has('5,6,0,8,9,0,0,0,0')).toBe(true); // dy = 1, dx = 1
    expect(seen.has('0,0,0,0,1,2,0,4,5')).toBe(true); // dy = -1, dx = -1
    for (const count of seen.values()) expect(Math.abs(count - 1000)).toBeLessThan(6 * Math.sqrt(9000 * (1 / 9) * (8 / 9)));
  });

  it('flips left-right about half of the time', () => {
    const rng = Rng.fromSeed(2);
    let flipped = 0;
    for (let i = 0; i < 2000; i++) {
      const px = image();
      randomHorizontalFlip(0.5)(px, shape, rng);
      if (px[0] === 3) {
        expect(Array.from(px)).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
        flipped++;
      }
    }
    expect(Math.abs(flipped - 1000)).toBeLessThan(6 * Math.sqrt(500));
  });
});
