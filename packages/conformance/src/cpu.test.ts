import { describe, expect, it } from 'vitest';
import { runConformance } from './suite';

describe('conformance: the CPU backend with the project kernels', () => {
  it.each([1, 2])('computes what the stock CPU kernels compute, on %i thread(s)', async (threads) => {
    const { seed, results } = await runConformance({ backend: 'cpu', options: { kernels: 'project', threads } });
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name} / ${r.output}: ${r.error.toExponential(2)} > ${r.tolerance}`);
    expect(failed, `random seed ${seed}`).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});
