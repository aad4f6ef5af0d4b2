import * as tf from '@tensorflow/tfjs-core';
import { PyramidNet, describeNetwork, readNetworkState, type ArchitectureConfig } from '@pyramid/pyramidnet';
import { Rng, compileInference, compileTrainingStep, nativeKernels, relativeError, useBackend } from '@pyramid/core';
import { RECIPES, type StepSettings, TrainingStep } from '@pyramid/train';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILED_STEP_CASES, type CompiledStepCase, caseBatches, compiledStepConformance, nonFiniteStep, trainCase } from './compiled-step';

// The CPU backend's compiled step (planned once on the native kernels, replayed) against the
// op-by-op step: on the same native kernels it must leave the same bits, and against tfjs's stock
// kernels (the suite's reference) the suite's tolerances.
const native = (await nativeKernels()).kernels !== null;
const runs = it.runIf(native || process.env.CI);
const PAPER = RECIPES['paper-cifar10'];

/** Three steps of a case on the native kernels (2 threads), compiled or op by op. */
async function train(c: CompiledStepCase, compile: boolean, settings: StepSettings = c.settings) {
  await useBackend('cpu', { kernels: 'project', threads: 2 });
  return trainCase(c, compile, settings);
}

/** The names of the tensors whose values differ in any bit (NaN and the sign of zero included). */
function differing(want: Map<string, Float32Array>, got: Map<string, Float32Array>): string[] {
  const names = [...want.keys()].filter((name) => {
    const a = want.get(name)!;
    const b = got.get(name);
    return !b || b.length !== a.length || a.some((v, i) => !Object.is(v, b[i]));
  });
  return [...names, ...[...got.keys()].filter((name) => !want.has(name))];
}

describe('the compiled CPU training step', () => {
  afterAll(async () => {
    await useBackend('cpu', { kernels: 'project' });
  });

  runs.each(COMPILED_STEP_CASES)('leaves the bits the op-by-op step leaves on the same kernels: $name', async (c) => {
    const want = await train(c, false);
    const got = await train(c, true);
    expect(got.reason).toBeNull();
    expect(got.results.map((r) => r.loss)).toEqual(want.results.map((r) => r.loss));
    expect(got.results.map((r) => [...r.predicted])).toEqual(want.results.map((r) => [...r.predicted]));
    expect(got.tracked).toBe(want.tracked);
    // Every parameter, running statistic and momentum buffer was compared.
    expect(want.tensors.size).toBeGreaterThan(60);
    expect(differing(want.tensors, got.tensors)).toEqual([]);
  });

  runs('leaves the same bits without momentum, with dampening and with weight decay on everything', async () => {
    const c = COMPILED_STEP_CASES[0];
    for (const settings of [{ ...PAPER, momentum: 0, nesterov: false }, { ...PAPER, nesterov: false, dampening: 0.5, noBnDecay: false }]) {
      const want = await train(c, false, settings);
      const got = await train(c, true, settings);
      expect(got.reason).toBeNull();
      expect(differing(want.tensors, got.tensors)).toEqual([]);
    }
  });

  runs.each(COMPILED_STEP_CASES)('trains as the stock kernels do, within the suite tolerances: $name', async (c) => {
    const results = await compiledStepConformance({ backend: 'cpu', options: { kernels: 'project', threads: 2 } }, [c]);
    const failed = results.filter((r) => !r.passed).map((r) => `${r.output}: ${r.error.toExponential(2)} > ${r.tolerance}`);
    expect(failed).toEqual([]);
    expect(results.filter((r) => r.output.startsWith('momentum ')).length).toBeGreaterThan(20);
  });

  runs('leaves the weights and momentum as they were when a batch gives a non-finite loss', async () => {
    await useBackend('cpu', { kernels: 'project', threads: 2 });
    const { reason, firstApplied, applied, loss, changed } = await nonFiniteStep(COMPILED_STEP_CASES[0]);
    expect(reason).toBeNull();
    expect(firstApplied).toBe(true);
    expect(applied).toBe(false);
    expect(Number.isFinite(loss)).toBe(false);
    expect(changed).toEqual([]);
  });

  runs.each(COMPILED_STEP_CASES)('infers the logits of the op-by-op model on the same kernels bit for bit, and of the stock kernels within 1e-5, in eval mode: $name', async (c) => {
    // Running statistics away from their initial 0 and 1, so that eval mode is seen to use them.
    const rng = Rng.fromSeed(31);
    const images = caseBatches(c, 1)[0].images;
    const { height, width, channels } = c.config.input!;
    const model = new PyramidNet(c.config, { seed: 9 });
    for (const t of model.namedTensors()) {
      if (t.name.endsWith('running_mean')) t.variable.assign(tf.tensor(rng.fork(t.name).fillNormal(new Float32Array(t.variable.size), 0, 0.5), t.variable.shape));
      if (t.name.endsWith('running_var')) t.variable.assign(tf.tensor(rng.fork(t.name).fillUniform(new Float32Array(t.variable.size), 0.5, 2), t.variable.shape));
    }
    const opByOp = async () => (await tf.tidy(() => model.predict(tf.tensor4d(images, [c.batch, height, width, channels]))).data()) as Float32Array;
    await useBackend('cpu', { kernels: 'stock' });
    const stock = await opByOp();
    await useBackend('cpu', { kernels: 'project', threads: 2 });
    const want = await opByOp();
    const network = describeNetwork(model);
    const inference = await compileInference(network, c.batch);
    if ('unsupported' in inference) throw new Error(inference.unsupported);
    inference.load(await readNetworkState(model));
    const got = await inference.run(images);
    // A call per convolution (its batch norm folded in), per unit's first batch norm and addition,
    // then the stem's convolution and batch norm (and max pool), the head's batch norm, pool and classifier.
    const convolutions = network.units.flatMap((u) => u.branch).filter((l) => l.op === 'conv').length;
    expect(inference.dispatchesPerBatch).toBe(convolutions + 2 * network.units.length + 5 + (network.stem.maxPool ? 1 : 0));
    expect([...got]).toEqual([...want]);
    expect(relativeError(got, stock, 0)).toBeLessThan(1e-5);
    inference.dispose();
    model.dispose();
  });

  runs('makes one call per convolution direction, batch norm pass, shortcut and addition, and four for the head and update', async () => {
    await useBackend('cpu', { kernels: 'project', threads: 2 });
    const model = new PyramidNet({ layout: 'cifar', depth: 110, alpha: 48, classes: 10 }, { seed: 1 });
    const network = describeNetwork(model);
    const compiled = await compileTrainingStep(network, { batchSize: 2, labelSmoothing: 0, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, noDecay: [], lrScale: {} });
    if ('unsupported' in compiled) throw new Error(compiled.unsupported);
    // Counted from the paper's PyramidNet-110: 109 convolutions (the stem's has no input gradient),
    // 164 batch norms (3 per unit, the stem's and the head's), 54 units.
    const [convolutions, batchNorms, units] = [1 + 54 * 2, 2 + 54 * 3, 54];
    expect(network.units.length).toBe(units);
    expect(compiled.dispatchesPerStep).toBe(3 * convolutions - 1 + 2 * batchNorms + 3 * units + 4);
    expect(compiled.dispatchesPerStep).toBe(820);
    compiled.dispose();
    model.dispose();
  });

  runs('says what it does not compile, and names a state entry that does not fit', async () => {
    await useBackend('cpu', { kernels: 'project', threads: 2 });
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
    const model = new PyramidNet(base, { seed: 1 });
    const compiled = await compileTrainingStep(describeNetwork(model), { batchSize: 4, labelSmoothing: 0, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, noDecay: [], lrScale: {} });
    if ('unsupported' in compiled) throw new Error(compiled.unsupported);
    const parameters: Record<string, Float32Array> = {};
    const buffers: Record<string, Float32Array> = {};
    for (const t of model.namedTensors()) (t.kind === 'parameter' ? parameters : buffers)[t.name] = (await t.variable.data()) as Float32Array;
    expect(() => compiled.load({ parameters: { ...parameters, 'layer1.0.conv1.weight': new Float32Array(3) }, buffers, momentum: null })).toThrow(
      /^compiled step: the parameter 'layer1\.0\.conv1\.weight' has 3 values, the network needs \d+$/,
    );
    const { 'bn1.running_var': _, ...withoutOne } = buffers;
    expect(() => compiled.load({ parameters, buffers: withoutOne, momentum: null })).toThrow(/^compiled step: the buffer 'bn1\.running_var' is missing$/);
    compiled.dispose();
    const inference = await compileInference(describeNetwork(model), 4);
    if ('unsupported' in inference) throw new Error(inference.unsupported);
    await expect(inference.run(new Float32Array(4 * 9 * 9 * 3))).rejects.toThrow('compiled inference: load the weights first');
    expect(() => inference.load({ parameters: { ...parameters, 'fc.bias': new Float32Array(2) }, buffers })).toThrow(/^compiled inference: the parameter 'fc\.bias' has 2 values, the network needs 10$/);
    // Nothing was stored by the refused load.
    await expect(inference.run(new Float32Array(4 * 9 * 9 * 3))).rejects.toThrow('compiled inference: load the weights first');
    inference.dispose();
    model.dispose();
    await useBackend('cpu', { kernels: 'stock' });
    const stockModel = new PyramidNet(base, { seed: 1 });
    const stockStep = new TrainingStep(stockModel, PAPER);
    expect(await stockStep.compile(4)).toMatch(/stock kernels/);
    stockStep.dispose();
    stockModel.dispose();
  });
});
