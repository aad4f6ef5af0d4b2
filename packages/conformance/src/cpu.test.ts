import { describe, expect, it } from 'vitest';
import { runConformance } from './suite';

describe('conformance: the CPU backend with the project kernels', () => {
  // Native kernels where this platform's package is built, WebAssembly everywhere else: both kept honest.
  it.each([
    [1, 'native where available', true],
    [2, 'native where available', true],
    [2, 'WebAssembly only', false],
  ])('computes what the stock CPU kernels compute, on %i thread(s), %s', async (threads, _, native) => {
    const { seed, results } = await runConformance({ backend: 'cpu', options: { kernels: 'project', threads, native } });
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name} / ${r.output}: ${r.error.toExponential(2)} > ${r.tolerance}`);
    expect(failed, `random seed ${seed}`).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});
