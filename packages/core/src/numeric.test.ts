import { describe, expect, it } from 'vitest';
import { relativeError } from './numeric';

describe('relativeError', () => {
  it('divides the largest difference by the largest expected magnitude', () => {
    // By hand: differences 0.1, 0, 0.3; largest |expected| 4: 0.3 / 4.
    expect(relativeError([1.1, -2, 4.3], [1, -2, 4])).toBeCloseTo(0.075, 12);
  });

  it('judges tiny tensors against the floor, and zero tensors absolutely', () => {
    // Scale max(1e-2, 1e-6) = 1e-2: 1e-6 / 1e-2.
    expect(relativeError([2e-6], [1e-6], 1e-2)).toBeCloseTo(1e-4, 12);
    expect(relativeError([0.5, 0], [0, 0])).toBe(0.5);
  });
});
