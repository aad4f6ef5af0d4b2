import { describe, expect, it } from 'vitest';
import { Rng } from './random';

describe('Rng', () => {
  it('matches the published xoshiro128** sequence for state {1, 2, 3, 4}', () => {
    // Expected values from Blackman & Vigna's reference algorithm, computed with an independent
    // Python transcription of xoshiro128starstar.c (they are also the commonly quoted test vector).
    const rng = Rng.fromState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4], spareNormal: null });
    const drawn = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(drawn).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    const c = Rng.fromSeed(43);
    const seqA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it('derives forks from the seed, not from how much the parent has drawn', () => {
    const fresh = Rng.fromSeed(7);
    const used = Rng.fromSeed(7);
    for (let i = 0; i < 100; i++) used.nextUint32();
    expect(used.fork('init').nextUint32()).toBe(fresh.fork('init').nextUint32());
    expect(fresh.fork('init').nextUint32()).not.toBe(fresh.fork('shuffle').nextUint32());
  });

  it('continues exactly where a saved state left off, spare normal included', () => {
    const rng = Rng.fromSeed(3);
    rng.normal(); // leaves the pair's second value pending
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const expected = [rng.normal(), rng.normal(), rng.uniform()];
    const restored = Rng.fromState(saved);
    expect([restored.normal(), restored.normal(), restored.uniform()]).toEqual(expected);
  });

  it('draws uniforms and normals with the right moments', () => {
    // Bounds are 6 standard errors of the sample mean / variance for n = 200,000.
    const n = 200_000;
    const rng = Rng.fromSeed(11);
    let su = 0, su2 = 0, sn = 0, sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      su += u; su2 += u * u;
      const z = rng.normal();
      sn += z; sn2 += z * z;
    }
    expect(Math.abs(su / n - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(su2 / n - (su / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
    expect(Math.abs(sn / n)).toBeLessThan(6 / Math.sqrt(n));
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(6 * Math.sqrt(2 / n));
  });

  it('draws Beta variates with their mean and variance, and Beta(1, 1) uniformly', () => {
    // Beta(a, b): mean a / (a + b), variance ab / ((a + b)^2 (a + b + 1)). Bounds are 6 standard
    // errors of the sample mean, and 5% of the variance, for n = 50,000 (shapes below and above 1
    // take the two branches of the gamma sampler).
    const n = 50_000;
    const rng = Rng.fromSeed(21);
    for (const [a, b] of [[0.2, 0.2], [1, 1], [2, 5], [0.5, 3]]) {
      const mean = a / (a + b);
      const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = rng.beta(a, b);
        expect(x >= 0 && x <= 1).toBe(true);
        s += x; s2 += x * x;
      }
      expect(Math.abs(s / n - mean)).toBeLessThan(6 * Math.sqrt(variance / n));
      expect(Math.abs(s2 / n - (s / n) ** 2 - variance)).toBeLessThan(0.05 * variance);
    }
    // Beta(1, 1) is uniform: each tenth of [0, 1] holds a tenth of the draws (6 binomial sd).
    const bins = new Array(10).fill(0);
    for (let i = 0; i < n; i++) bins[Math.min(9, Math.floor(rng.beta(1, 1) * 10))]++;
    for (const c of bins) expect(Math.abs(c - n / 10)).toBeLessThan(6 * Math.sqrt(n * 0.1 * 0.9));
    expect(() => rng.gamma(0)).toThrow(/positive shape/);
  });

  it('draws unbiased integers and true permutations', () => {
    const rng = Rng.fromSeed(5);
    const counts = new Array(3).fill(0);
    for (let i = 0; i < 30_000; i++) counts[rng.int(3)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(6 * Math.sqrt(30_000 * (1 / 3) * (2 / 3)));
    const perm = rng.permutation(1000);
    expect([...perm].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...perm]).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('rejects seeds that are not non-negative safe integers', () => {
    expect(() => Rng.fromSeed(-1)).toThrow(/seed must be a non-negative integer/);
    expect(() => Rng.fromSeed(1.5)).toThrow(/seed must be a non-negative integer/);
  });
});
