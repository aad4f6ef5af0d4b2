import { Rng, listBackends, registerBackendPlugin, relativeError, useBackend } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { PyramidNet, type ArchitectureConfig } from '@pyramid/pyramidnet';
import { RECIPES, type StepSettings, TrainingStep } from '@pyramid/train';
import { afterAll, describe, expect, it } from 'vitest';

// The compiled WebGPU step (planned once, replayed) against the op-by-op step on the CPU with
// tfjs's stock kernels, the suite's reference: the same batches from the same weights must leave
// the same weights, momentum and running statistics, and give the same losses and predictions.
registerBackendPlugin(backendPlugin);
const webgpu = (await listBackends()).find((b) => b.name === 'webgpu');
const runs = it.runIf(webgpu?.available || process.env.CI);

interface Case {
  name: string;
  config: ArchitectureConfig;
  batch: number;
  settings: StepSettings;
}

const PAPER = RECIPES['paper-cifar10'];
const CASES: Case[] = [
  {
    name: 'PyramidNet-8, basic units, odd 17x17 input (ceil-mode shortcut pools), the paper recipe',
    config: { layout: 'cifar', depth: 8, alpha: 12, classes: 10, input: { height: 17, width: 17, channels: 3 } },
    batch: 4,
    settings: PAPER,
  },
  {
    name: 'PyramidNet-11, bottleneck units, 9x9 input, label smoothing, no Nesterov, decay on batch norms, head at 3x the rate',
    config: { layout: 'cifar', depth: 11, alpha: 12, classes: 5, unit: 'bottleneck', input: { height: 9, width: 9, channels: 3 } },
    batch: 3,
    settings: { ...PAPER, labelSmoothing: 0.1, nesterov: false, noBnDecay: false, headLrMultiplier: 3 },
  },
];
const STEPS = 3;
const LRS = [0.1, 0.05, 0.2];
/** The suite's whole-model tolerance: max |a - b| over max |b|, floored at 1e-3 of the largest value. */
const TOLERANCE = 1e-3;

function batches(c: Case) {
  const rng = Rng.fromSeed(23).fork(c.name);
  const { height, width, channels } = c.config.input!;
  return Array.from({ length: STEPS }, () => ({
    images: rng.fillNormal(new Float32Array(c.batch * height * width * channels)),
    labels: Int32Array.from({ length: c.batch }, () => rng.int(c.config.classes)),
    size: c.batch,
  }));
}

/** The steps' losses and predictions, and every tensor of the model and optimizer after them. */
async function train(c: Case, compile: boolean) {
  const model = new PyramidNet(c.config, { seed: 9 });
  const step = new TrainingStep(model, c.settings);
  const reason = compile ? await step.compile(c.batch) : null;
  const results = [];
  for (const [i, batch] of batches(c).entries()) results.push(await step.run(batch, LRS[i]));
  await step.settle();
  const tensors = new Map<string, Float32Array>();
  for (const t of model.namedTensors()) tensors.set(t.name, (await t.variable.data()) as Float32Array);
  for (const [name, b] of step.optimizer.state().buffers) tensors.set(`momentum ${name}`, (await b.data()) as Float32Array);
  const tracked = model.bnFinal.batchesTracked;
  step.dispose();
  model.dispose();
  return { reason, results, tensors, tracked };
}

describe('the compiled WebGPU training step', () => {
  afterAll(async () => {
    await useBackend('cpu', { kernels: 'stock' });
  });

  runs.each(CASES)('trains as the CPU does: $name', async (c) => {
    await useBackend('cpu', { kernels: 'stock' });
    const want = await train(c, false);
    await useBackend('webgpu', { kernels: 'project' });
    const got = await train(c, true);
    expect(got.reason).toBeNull();
    expect(got.tracked).toBe(STEPS);
    for (const [i, r] of got.results.entries()) {
      expect(r.applied).toBe(true);
      expect(Math.abs(r.loss - want.results[i].loss) / want.results[i].loss, `loss of step ${i + 1}`).toBeLessThan(1e-5);
      expect([...r.predicted], `predictions of step ${i + 1}`).toEqual([...want.results[i].predicted]);
    }
    expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
    const largest = Math.max(...[...want.tensors.values()].map((v) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
    const failed = [...want.tensors]
      .map(([name, values]) => ({ name, error: relativeError(got.tensors.get(name)!, values, largest * 1e-3) }))
      .filter((r) => !(r.error <= TOLERANCE))
      .map((r) => `${r.name}: ${r.error.toExponential(2)}`);
    expect(failed).toEqual([]);
  });

  runs('leaves the weights and momentum as they were when a batch gives a non-finite loss', async () => {
    await useBackend('webgpu', { kernels: 'project' });
    const c = CASES[0];
    const model = new PyramidNet(c.config, { seed: 9 });
    const step = new TrainingStep(model, c.settings);
    expect(await step.compile(c.batch)).toBeNull();
    const [first, second] = batches(c);
    expect((await step.run(first, 0.1)).applied).toBe(true);
    await step.settle();
    const before = new Map<string, Float32Array>();
    for (const t of model.namedTensors()) if (t.kind === 'parameter') before.set(t.name, (await t.variable.data()) as Float32Array);
    const momentumBefore = (await step.optimizer.state().buffers.get('fc.weight')!.data()) as Float32Array;
    const poisoned = { ...second, images: second.images.map((v, i) => (i === 5 ? Number.NaN : v)) };
    const result = await step.run(poisoned, 0.1);
    expect(result.applied).toBe(false);
    expect(Number.isFinite(result.loss)).toBe(false);
    await step.settle();
    for (const t of model.namedTensors()) {
      if (t.kind === 'parameter') expect([...((await t.variable.data()) as Float32Array)], t.name).toEqual([...before.get(t.name)!]);
    }
    expect([...((await step.optimizer.state().buffers.get('fc.weight')!.data()) as Float32Array)]).toEqual([...momentumBefore]);
    step.dispose();
    model.dispose();
  });

  runs('is refused, with the reason, for what it does not compile', async () => {
    await useBackend('webgpu', { kernels: 'project' });
    const base: ArchitectureConfig = { layout: 'cifar', depth: 8, alpha: 12, classes: 10, input: { height: 9, width: 9, channels: 3 } };
    const refusals: [ArchitectureConfig, StepSettings, RegExp][] = [
      [{ ...base, shakeDrop: { lastKeep: 0.5 } }, PAPER, /ShakeDrop/],
      [{ ...base, shortcut: 'projection' }, PAPER, /projection shortcut/],
      [base, { ...PAPER, freeze: 'body' }, /frozen/],
    ];
    for (const [config, settings, reason] of refusals) {
      const model = new PyramidNet(config, { seed: 1 });
      const step = new TrainingStep(model, settings);
      expect(await step.compile(4)).toMatch(reason);
      step.dispose();
      model.dispose();
    }
    await useBackend('webgpu', { kernels: 'stock' });
    const model = new PyramidNet(base, { seed: 1 });
    const step = new TrainingStep(model, PAPER);
    expect(await step.compile(4)).toMatch(/stock kernels/);
    step.dispose();
    model.dispose();
  });
});
