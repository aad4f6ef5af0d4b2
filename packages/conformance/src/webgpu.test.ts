import { listBackends, registerBackendPlugin } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { describe, expect, it } from 'vitest';
import { runConformance } from './suite';

registerBackendPlugin(backendPlugin);
const webgpu = (await listBackends()).find((b) => b.name === 'webgpu');

describe('conformance: the WebGPU backend', () => {
  // CI installs Mesa's lavapipe (.ci/run), so there the suite must run, not be skipped.
  it.runIf(webgpu?.available || process.env.CI).each(['project', 'stock'] as const)(`with the %s kernels computes what the CPU computes (${webgpu?.detail ?? webgpu?.reason})`, async (kernels) => {
    const { seed, detail, results } = await runConformance({ backend: 'webgpu', options: { kernels } });
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name} / ${r.output}: ${r.error.toExponential(2)} > ${r.tolerance}`);
    expect(failed, `random seed ${seed}, ${detail}`).toEqual([]);
  });
});
