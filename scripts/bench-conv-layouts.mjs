// The native CPU kernels' convolution layouts against each other, side by side in one process:
// oneDNN on the NHWC arrays in place, or on its blocked layouts with reorders in and out of every
// call. Runs alternate between the settings (A B C A B C ...) so that a busy or throttled machine
// weighs on all of them alike; each run is a training step (forward, backward, SGD) of the same
// model on the same batch, timed by the wall clock and by the process's CPU time.
//
//   node scripts/bench-conv-layouts.mjs [--preset pyramidnet110-a48-cifar10] [--batch 128]
//     [--threads 2] [--rounds 5] [--out file.json]
//
// Needs the packages built (npx turbo run build) and the native addon for this platform.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Rng, nativeKernels, useBackend } from '@pyramid/core';
import { PyramidNet, findPreset } from '@pyramid/pyramidnet';
import { RECIPES, TrainingStep } from '@pyramid/train';

const { values: flags } = parseArgs({
  options: {
    preset: { type: 'string', default: 'pyramidnet110-a48-cifar10' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    settings: { type: 'string', default: 'nhwc/nhwc/nhwc,blocked/blocked/blocked' },
    out: { type: 'string' },
  },
});
const batchSize = Number(flags.batch);
const rounds = Number(flags.rounds);

const backend = await useBackend('cpu', { threads: Number(flags.threads) });
const { kernels: native } = await nativeKernels();
if (!native) {
  console.error('bench-conv-layouts: the native CPU kernels did not load; nothing to compare');
  process.exit(1);
}
const settings = flags.settings.split(',').map((text) => {
  const [forward, data, weights] = text.split('/');
  return { name: text, forward, data, weights };
});
const preset = findPreset(flags.preset);
const model = new PyramidNet(preset.architecture);
const { height, width, channels } = model.architecture.input;
const rng = Rng.fromSeed(0).fork('bench-conv-layouts');
const batch = {
  images: rng.fillNormal(new Float32Array(batchSize * height * width * channels)),
  labels: Int32Array.from({ length: batchSize }, () => rng.int(model.architecture.classes)),
  size: batchSize,
};
const step = new TrainingStep(model, RECIPES['paper-cifar10']);
const useSetting = (s) => native.setConvolutionLayouts(s.forward, s.data, s.weights);

// One untimed step per setting: oneDNN builds its primitives on first use.
for (const s of settings) {
  useSetting(s);
  await step.run(batch, 0.01, rng);
}
const runs = Object.fromEntries(settings.map((s) => [s.name, { wallMs: [], cpuMs: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const s of settings) {
    useSetting(s);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await step.run(batch, 0.01, rng);
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    runs[s.name].wallMs.push(wall);
    runs[s.name].cpuMs.push((used.user + used.system) / 1000);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const summary = settings.map((s) => ({
  layouts: s.name,
  medianWallMs: median(runs[s.name].wallMs),
  imagesPerSecond: (batchSize * 1000) / median(runs[s.name].wallMs),
  medianCpuMs: median(runs[s.name].cpuMs),
  ...runs[s.name],
}));
const report = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  backend: backend.detail,
  preset: flags.preset,
  batchSize,
  threads: Number(flags.threads),
  rounds,
  summary,
};
console.log(`${flags.preset}, batch ${batchSize}, ${flags.threads} threads, ${rounds} alternating rounds (forward/input gradient/filter gradient):`);
for (const row of summary) {
  console.log(`  ${row.layouts.padEnd(24)} ${row.medianWallMs.toFixed(0).padStart(6)} ms per step (${row.imagesPerSecond.toFixed(2)} img/s), CPU ${row.medianCpuMs.toFixed(0)} ms`);
}
if (flags.out) writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
