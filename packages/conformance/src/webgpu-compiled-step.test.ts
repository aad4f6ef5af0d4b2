import { listBackends, registerBackendPlugin, useBackend } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { PyramidNet, type ArchitectureConfig } from '@pyramid/pyramidnet';
import { RECIPES, type StepSettings, TrainingStep } from '@pyramid/train';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILED_STEP_CASES, caseBatches, compiledStepConformance } from './compiled-step';

// The compiled WebGPU step (planned once, replayed) against the op-by-op step on the CPU with
// tfjs's stock kernels, the suite's reference: the same batches from the same weights must leave
// the same weights, momentum and running statistics, and give the same losses and predictions.
registerBackendPlugin(backendPlugin);
const webgpu = (await listBackends()).find((b) => b.name === 'webgpu');
const runs = it.runIf(webgpu?.available || process.env.CI);

const PAPER = RECIPES['paper-cifar10'];

describe('the compiled WebGPU training step', () => {
  afterAll(async () => {
    await useBackend('cpu', { kernels: 'stock' });
  });

  runs.each(COMPILED_STEP_CASES)('trains as the CPU does: $name', async (c) => {
    const results = await compiledStepConformance({ backend: 'webgpu', options: { kernels: 'project' } }, [c]);
    const failed = results.filter((r) => !r.passed).map((r) => `${r.output}: ${r.error.toExponential(2)} > ${r.tolerance}`);
    expect(failed).toEqual([]);
    // Every tensor of the model and optimizer was compared, not only some.
    expect(results.filter((r) => r.output.startsWith('momentum ')).length).toBeGreaterThan(20);
  });

  runs('leaves the weights and momentum as they were when a batch gives a non-finite loss', async () => {
    await useBackend('webgpu', { kernels: 'project' });
    const c = COMPILED_STEP_CASES[0];
    const model = new PyramidNet(c.config, { seed: 9 });
    const step = new TrainingStep(model, c.settings);
    expect(await step.compile(c.batch)).toBeNull();
    const [first, second] = caseBatches(c);
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
