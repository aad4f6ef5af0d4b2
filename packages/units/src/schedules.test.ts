import { describe, expect, it } from 'vitest';
import { additiveWidths, multiplicativeWidths, roundWidth } from './schedules';

describe('additive widening (paper eq. 2)', () => {
  it('gives PyramidNet-20 alpha 48 its widths', () => {
    // By hand: 9 units, alpha / N = 48 / 9 = 5.333...; accumulator 21.33, 26.67, 32, 37.33, 42.67,
    // 48, 53.33, 58.67, 64 rounded to nearest.
    expect(additiveWidths({ start: 16, alpha: 48, units: 9 })).toEqual([21, 27, 32, 37, 43, 48, 53, 59, 64]);
  });

  it('ends at start + alpha and never narrows', () => {
    for (const [alpha, units] of [[48, 54], [84, 54], [270, 54], [200, 90], [300, 66]]) {
      const w = additiveWidths({ start: 16, alpha, units });
      expect(w).toHaveLength(units);
      expect(w[units - 1]).toBe(16 + alpha);
      for (let i = 1; i < w.length; i++) expect(w[i]).toBeGreaterThanOrEqual(w[i - 1]);
    }
  });

  it('rounds exact halves to even by default (Python 3) and up on request (Lua)', () => {
    // alpha / N = 4.5 / 9 = 0.5 exactly: the accumulator visits 16.5, 17, 17.5, ..., 20.5.
    expect(additiveWidths({ start: 16, alpha: 4.5, units: 9 })).toEqual([16, 17, 18, 18, 18, 19, 20, 20, 20]);
    expect(additiveWidths({ start: 16, alpha: 4.5, units: 9, rounding: 'half-up' })).toEqual([17, 17, 18, 18, 19, 19, 20, 20, 21]);
  });

  it('rejects a non-positive alpha and a non-integer unit count', () => {
    expect(() => additiveWidths({ start: 16, alpha: 0, units: 9 })).toThrow('alpha must be a positive number, got 0');
    expect(() => additiveWidths({ start: 16, alpha: 48, units: 2.5 })).toThrow('number of units must be a positive integer, got 2.5');
  });
});

describe('multiplicative widening (paper eq. 3)', () => {
  it('multiplies the width by alpha^(1/N) per unit', () => {
    // By hand: alpha 4 over 4 units, factor sqrt(2): 22.63, 32, 45.25, 64.
    expect(multiplicativeWidths({ start: 16, alpha: 4, units: 4 })).toEqual([23, 32, 45, 64]);
  });

  it('rejects alpha below 1, which would narrow the network', () => {
    expect(() => multiplicativeWidths({ start: 16, alpha: 0.5, units: 4 })).toThrow(/at least 1/);
  });
});

describe('roundWidth', () => {
  it('differs between the two rules only on exact halves', () => {
    expect([roundWidth(2.5, 'half-even'), roundWidth(2.5, 'half-up')]).toEqual([2, 3]);
    expect([roundWidth(3.5, 'half-even'), roundWidth(3.5, 'half-up')]).toEqual([4, 4]);
    expect([roundWidth(2.4999999, 'half-even'), roundWidth(2.5000001, 'half-even')]).toEqual([2, 3]);
  });
});
