// Host cost of one WebGPU training step on Dawn's null backend, which runs every WebGPU call but
// has no device: the time is what the host spends recording the step, and the counts are the GPU
// work it records. Both paths side by side in one process: the compiled step (planned once,
// replayed) and the op-by-op TrainingStep with the project's kernels.
//
//   node scripts/bench-webgpu-host.mjs [--preset pyramidnet110-a48-cifar10] [--batch 8]
//     [--steps 20] [--warmup 3] [--path compiled|ops|both] [--dawn-backend null] [--out file.json]
//
// Needs the packages built (npx turbo run build) and the webgpu package installed. The null
// backend caps its memory below PyramidNet-110 at batch 32; what the host records does not depend
// on the batch size.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, registerBackendPlugin, useBackend } from '@pyramid/core';
import { backendPlugin, watchGpuWork } from '@pyramid/backend-webgpu';
import { PyramidNet, findPreset } from '@pyramid/pyramidnet';
import { RECIPES, TrainingStep } from '@pyramid/train';

const { values: flags } = parseArgs({
  options: {
    preset: { type: 'string', default: 'pyramidnet110-a48-cifar10' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    path: { type: 'string', default: 'both' },
    'dawn-backend': { type: 'string', default: 'null' },
    out: { type: 'string' },
  },
});
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const warmup = Number(flags.warmup);

registerBackendPlugin(backendPlugin);
const info = await useBackend('webgpu', { dawnBackend: flags['dawn-backend'], kernels: 'project' });
const backend = tf.backend();
const preset = findPreset(flags.preset);
const { height, width, channels } = preset.architecture.input ?? { height: 32, width: 32, channels: 3 };
const rng = Rng.fromSeed(1);
const pixels = rng.fillNormal(new Float32Array(batch * height * width * channels));
const labelValues = Int32Array.from({ length: batch }, () => rng.int(preset.architecture.classes));

// tfjs kernels run per step, Identity (the copies the gradient tape keeps) apart.
const engine = tf.engine();
const runKernelFunc = engine.runKernelFunc;
let kernels = 0;
let identities = 0;
engine.runKernelFunc = function (params) {
  kernels++;
  if (params.kernelName === 'Identity') identities++;
  return runKernelFunc.call(this, params);
};

/** Times `oneStep` after warm-up: host ms and the WebGPU work of each step. */
function measure(oneStep) {
  for (let i = 0; i < warmup; i++) oneStep();
  const watch = watchGpuWork();
  const runs = [];
  for (let i = 0; i < steps; i++) {
    kernels = 0;
    identities = 0;
    const start = performance.now();
    oneStep();
    const ms = performance.now() - start;
    runs.push({ ms, kernels, identities, ...watch.take() });
  }
  watch.stop();
  const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
  return { hostMsPerStep: sorted[sorted.length >> 1], minMs: sorted[0], maxMs: sorted[sorted.length - 1], perStep: { ...runs[runs.length - 1], ms: undefined }, runs };
}

const paths = {};
const model = new PyramidNet(preset.architecture, { seed: 1 });
if (flags.path !== 'ops') {
  const step = new TrainingStep(model, RECIPES['paper-cifar10']);
  const reason = await step.compile(batch);
  if (reason) throw new Error(`the step did not compile: ${reason}`);
  const compiled = step.compiledStep();
  // The loss is not read back: that waits for the device, which the null backend does not have.
  paths.compiled = measure(() => compiled.record(pixels, labelValues, 0.01));
  step.dispose();
}
if (flags.path !== 'compiled') {
  const step = new TrainingStep(model, RECIPES['paper-cifar10']);
  const images = tf.tensor4d(pixels, [batch, height, width, channels]);
  const labels = tf.tensor1d(labelValues, 'int32');
  paths.ops = measure(() => {
    const { loss, predicted, grads } = step.tensorGradients(images, labels);
    step.apply(grads, 0.01);
    tf.dispose([loss, predicted, ...Object.values(grads)]);
    backend.endComputePassEncoder();
    if (backend.commandEncoder) backend.submitQueue();
  });
  tf.dispose([images, labels]);
  step.dispose();
}
await backend.device.queue.onSubmittedWorkDone();

const report = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  adapter: info.detail,
  preset: preset.name,
  batch,
  steps,
  paths,
  ...(paths.compiled && paths.ops ? { hostSpeedup: paths.ops.hostMsPerStep / paths.compiled.hostMsPerStep } : {}),
};
if (flags.out) writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
for (const [name, p] of Object.entries(paths)) {
  const last = p.perStep;
  process.stdout.write(
    `${preset.name} batch ${batch}, ${name === 'compiled' ? 'compiled step' : 'op-by-op step (project kernels)'} on ${info.detail}: ` +
      `host ${p.hostMsPerStep.toFixed(2)} ms per step (median of ${steps}; ${p.minMs.toFixed(2)}-${p.maxMs.toFixed(2)}); ` +
      `${last.dispatches} dispatches, ${last.kernels} tfjs kernels, ${last.computePasses} passes, ${last.submits} submits, ${last.writeBuffers} buffer writes; ` +
      `created per step: ${last.buffers} buffers, ${last.bindGroups} bind groups, ${last.shaderModules} shader modules, ${last.pipelines} pipelines\n`,
  );
}
if (report.hostSpeedup) process.stdout.write(`host time: the compiled step is ${report.hostSpeedup.toFixed(0)}x faster\n`);
process.exit(0);
