// Host cost of one WebGPU training step (TrainingStep: forward, loss, backward, SGD) on Dawn's
// null backend, which runs every WebGPU call but has no device: the time is what the host spends
// recording the step, and the counts are the GPU work it records.
//
//   node scripts/bench-webgpu-host.mjs [--preset pyramidnet110-a48-cifar10] [--batch 128]
//     [--steps 5] [--warmup 2] [--kernels project|stock] [--dawn-backend null] [--out file.json]
//
// Needs the packages built (npx turbo run build) and the webgpu package installed.
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
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    kernels: { type: 'string', default: 'project' },
    'dawn-backend': { type: 'string', default: 'null' },
    out: { type: 'string' },
  },
});
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const warmup = Number(flags.warmup);

registerBackendPlugin(backendPlugin);
const info = await useBackend('webgpu', { dawnBackend: flags['dawn-backend'], kernels: flags.kernels });
const backend = tf.backend();
const preset = findPreset(flags.preset);
const model = new PyramidNet(preset.architecture, { seed: 1 });
const step = new TrainingStep(model, RECIPES['paper-cifar10']);
const { height, width, channels } = model.architecture.input;
const rng = Rng.fromSeed(1);
const images = tf.tensor4d(rng.fillNormal(new Float32Array(batch * height * width * channels)), [batch, height, width, channels]);
const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(model.architecture.classes)), 'int32');

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

// One step as the trainer records it, then the recorded work handed to the queue. The loss is not
// read: that waits for the device, which the null backend does not have.
function oneStep() {
  const { loss, predicted, grads } = step.tensorGradients(images, labels);
  step.apply(grads, 0.01);
  tf.dispose([loss, predicted, ...Object.values(grads)]);
  backend.endComputePassEncoder();
  if (backend.commandEncoder) backend.submitQueue();
}

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
await backend.device.queue.onSubmittedWorkDone();
const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
const report = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  adapter: info.detail,
  kernelSet: info.kernels,
  preset: preset.name,
  batch,
  hostMsPerStep: sorted[sorted.length >> 1],
  perStep: { ...runs[runs.length - 1], ms: undefined },
  runs,
};
if (flags.out) writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
const last = report.perStep;
process.stdout.write(
  `${preset.name} batch ${batch}, ${info.kernels} kernels on ${info.detail}: host ${report.hostMsPerStep.toFixed(1)} ms per step (median of ${steps}); ` +
    `${last.dispatches} dispatches, ${last.kernels} tfjs kernels (${last.identities} Identity), ${last.submits} submits, ${last.copies} copies, ` +
    `created per step: ${last.buffers} buffers, ${last.bindGroups} bind groups, ${last.shaderModules} shader modules, ${last.pipelines} pipelines\n`,
);
process.exit(0);
