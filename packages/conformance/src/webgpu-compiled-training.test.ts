import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, listBackends, registerBackendPlugin, useBackend } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { RECIPES, createRunConfig } from '@pyramid/train';
import { type TrainEvent, train } from '@pyramid/train/node';
import { afterAll, describe, expect, it } from 'vitest';

// The trainer on the compiled WebGPU step, which it runs one step ahead of the step whose loss it
// reads: checkpoints at intervals, a stop and a resume must still see exactly the steps they
// name. A compiled step gives the same bits every time, so an interrupted and resumed run must
// end bit for bit where an uninterrupted one does (the same check the trainer's own tests make on
// the CPU).
registerBackendPlugin(backendPlugin);
const webgpu = (await listBackends()).find((b) => b.name === 'webgpu');
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-compiled-training-'));

function toyData(n = 64) {
  const rng = Rng.fromSeed(5);
  const images = new Uint8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 4;
    for (let p = 0; p < 64; p++) images[i * 64 + p] = Math.min(255, labels[i] * 60 + rng.int(60));
  }
  return { name: 'toy', shape: { height: 8, width: 8, channels: 1 as const }, classNames: ['a', 'b', 'c', 'd'], images, labels, normalization: { mean: [100], std: [60], scale: 1 as const } };
}

const data = toyData();
const test = toyData(16);
const config = createRunConfig({
  architecture: { layout: 'cifar', depth: 8, alpha: 4, classes: 4, input: { height: 8, width: 8, channels: 1 } },
  data: { name: 'toy', source: 'toy', options: {}, trainImages: 64, testImages: 16, classNames: data.classNames, normalization: data.normalization },
  recipeName: 'quick',
  recipe: { ...RECIPES.quick, epochs: 2, batchSize: 8, augment: 'cifar' },
  seed: 3,
  checkpointEvery: 3,
});

const weightsOf = (dir: string) => readFileSync(join(dir, 'checkpoints', 'last', 'model.safetensors'));
const steps = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === 'step').map((r) => [r.step, r.loss]);

describe('training on the compiled WebGPU step', () => {
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await useBackend('cpu', { kernels: 'stock' });
  });

  it.runIf(webgpu?.available || process.env.CI)('stops, checkpoints and resumes at the steps it names, ending bit for bit where an uninterrupted run ends', async () => {
    await useBackend('webgpu', { kernels: 'project' });
    const modes: TrainEvent[] = [];
    const straight = join(scratch, 'straight');
    await train({ runDir: straight, config, resume: false, train: data, test, plots: false, onEvent: (e) => e.kind === 'start' && modes.push(e) });
    expect(modes.map((e) => e.kind === 'start' && e.stepMode)).toEqual([{ compiled: true }]);

    const interrupted = join(scratch, 'interrupted');
    const controller = new AbortController();
    const checkpoints: [number, string][] = [];
    const stopped = await train({
      runDir: interrupted,
      config,
      resume: false,
      train: data,
      test,
      plots: false,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'checkpoint') checkpoints.push([e.step, e.reason]);
        if (e.kind === 'step' && e.step === 5) controller.abort();
      },
    });
    // The step after the one whose event asked to stop was already on the device: the stop holds it.
    expect([stopped.status, stopped.state.step]).toEqual(['stopped', 6]);
    expect(checkpoints).toEqual([[3, 'interval'], [6, 'interval'], [6, 'stop']]);
    const resumed = await train({ runDir: interrupted, resume: true, train: data, test, plots: false });
    expect(resumed.status).toBe('finished');
    expect(steps(interrupted)).toEqual(steps(straight));
    expect(weightsOf(interrupted).equals(weightsOf(straight))).toBe(true);
  });

  it.runIf(webgpu?.available || process.env.CI)('trains an ImageNet-layout model (7x7/2 stem, max pool) on the compiled step', async () => {
    await useBackend('webgpu', { kernels: 'project' });
    const imagenet = createRunConfig({
      architecture: { layout: 'imagenet', depth: 10, alpha: 4, classes: 4, unit: 'basic', input: { height: 8, width: 8, channels: 1 } },
      data: config.data,
      recipeName: 'quick',
      recipe: { ...RECIPES.quick, epochs: 1, batchSize: 8, augment: 'none' },
      seed: 3,
    });
    const modes: TrainEvent[] = [];
    const result = await train({ runDir: join(scratch, 'imagenet'), config: imagenet, resume: false, train: data, test, plots: false, onEvent: (e) => e.kind === 'start' && modes.push(e) });
    expect(modes.map((e) => e.kind === 'start' && e.stepMode)).toEqual([{ compiled: true }]);
    expect(result.status).toBe('finished');
    expect(steps(join(scratch, 'imagenet')).every(([, loss]) => Number.isFinite(loss))).toBe(true);
  });
});
