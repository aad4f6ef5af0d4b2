import * as tf from '@tensorflow/tfjs-core';
import { Rng, compileInference, listBackends, registerBackendPlugin, relativeError, useBackend } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';
import { PyramidNet, describeNetwork, readNetworkState, type ArchitectureConfig } from '@pyramid/pyramidnet';
import { RECIPES, type StepSettings, TrainingStep } from '@pyramid/train';
import { evaluate } from '@pyramid/train/node';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILED_STEP_CASES, caseBatches, compiledStepConformance, nonFiniteStep } from './compiled-step';

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
    const { reason, firstApplied, applied, loss, changed } = await nonFiniteStep(COMPILED_STEP_CASES[0]);
    expect(reason).toBeNull();
    expect(firstApplied).toBe(true);
    expect(applied).toBe(false);
    expect(Number.isFinite(loss)).toBe(false);
    expect(changed).toEqual([]);
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

  runs.each(COMPILED_STEP_CASES)('infers the logits the CPU infers, in eval mode: $name', async (c) => {
    // Running statistics away from their initial 0 and 1, so that eval mode is seen to use them.
    const rng = Rng.fromSeed(31);
    const images = caseBatches(c, 1)[0].images;
    const { height, width, channels } = c.config.input!;
    const prepare = () => {
      const model = new PyramidNet(c.config, { seed: 9 });
      for (const t of model.namedTensors()) {
        if (t.name.endsWith('running_mean')) t.variable.assign(tf.tensor(rng.fork(t.name).fillNormal(new Float32Array(t.variable.size), 0, 0.5), t.variable.shape));
        if (t.name.endsWith('running_var')) t.variable.assign(tf.tensor(rng.fork(t.name).fillUniform(new Float32Array(t.variable.size), 0.5, 2), t.variable.shape));
      }
      return model;
    };
    await useBackend('cpu', { kernels: 'stock' });
    const reference = prepare();
    const want = (await tf.tidy(() => reference.predict(tf.tensor4d(images, [c.batch, height, width, channels]))).data()) as Float32Array;
    const state = await readNetworkState(reference);
    reference.dispose();
    await useBackend('webgpu', { kernels: 'project' });
    const model = new PyramidNet(c.config, { seed: 9 });
    const network = describeNetwork(model);
    const inference = await compileInference(network, c.batch);
    if ('unsupported' in inference) throw new Error(inference.unsupported);
    inference.load(state);
    const got = await inference.run(images);
    // Eval mode: a dispatch per convolution and one per addition (batch norms run inside them),
    // then the stem's batch norm (with its max pool, in the ImageNet layout), the head's pool and the classifier.
    const convolutions = network.units.flatMap((u) => u.branch).filter((l) => l.op === 'conv').length;
    expect(inference.dispatchesPerBatch).toBe(1 + convolutions + network.units.length + 3);
    expect(relativeError(got, want, 0)).toBeLessThan(1e-4);
    inference.dispose();
    model.dispose();
  });

  runs('evaluates a dataset as the CPU does, the last short batch included', async () => {
    const config: ArchitectureConfig = { layout: 'cifar', depth: 8, alpha: 12, classes: 3, input: { height: 9, width: 9, channels: 3 } };
    const rng = Rng.fromSeed(41);
    const count = 11;
    const dataset = {
      name: 'random', shape: config.input!, classNames: ['a', 'b', 'c'],
      images: Uint8Array.from({ length: count * 9 * 9 * 3 }, () => rng.int(256)),
      labels: Int32Array.from({ length: count }, () => rng.int(3)),
      normalization: { mean: [120, 120, 120], std: [60, 60, 60], scale: 1 as const },
    };
    const run = async (backend: string, kernels: 'project' | 'stock') => {
      await useBackend(backend, { kernels });
      const model = new PyramidNet(config, { seed: 4 });
      const result = await evaluate(model, dataset, { batchSize: 4, normalization: dataset.normalization });
      model.dispose();
      return result;
    };
    const want = await run('cpu', 'stock');
    // The WebGPU run is compiled: one plan for the batches of 4, one for the last 3.
    const compile = backendPlugin.compileInference!;
    const sizes: number[] = [];
    backendPlugin.compileInference = (network, batchSize) => {
      sizes.push(batchSize);
      return compile(network, batchSize);
    };
    const got = await run('webgpu', 'project').finally(() => {
      backendPlugin.compileInference = compile;
    });
    expect(sizes).toEqual([4, 3]);
    expect(got.confusion).toEqual(want.confusion);
    expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
  });
});
