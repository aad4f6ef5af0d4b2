// The conformance suite (every kernel training uses, then whole PyramidNet training steps, then
// the compiled step) on the WebGPU backend against tfjs's CPU kernels, bundled for GPU machines by
// prepare.sh.
// Usage: node .gpu/conformance.mjs [project|stock] [seed]; exit status 1 when a check fails.
import { registerBackendPlugin } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { compiledStepConformance, runConformance } from '@pyramid/conformance';

const kernels = process.argv[2] === 'stock' ? 'stock' : 'project';
const seed = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
registerBackendPlugin(backendPlugin);
const { seed: used, detail, results } = await runConformance({ backend: 'webgpu', options: { kernels } }, { seed });
// The compiled step runs with the project's kernels only (stock ones mean op by op).
if (kernels === 'project') results.push(...(await compiledStepConformance({ backend: 'webgpu', options: { kernels } })).map((r) => ({ ...r, name: `compiled step: ${r.name}` })));
console.log(`conformance of ${detail}, ${kernels} kernels, seed ${used}`);
for (const r of results) {
  console.log(`${r.passed ? 'pass' : 'FAIL'}  ${r.name} / ${r.output}: ${r.error.toExponential(2)} (tolerance ${r.tolerance})`);
}
const failed = results.filter((r) => !r.passed).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
