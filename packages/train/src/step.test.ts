import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { PyramidNet } from '@pyramid/pyramidnet';
import { beforeAll, describe, expect, it } from 'vitest';
import { RECIPES } from './recipes';
import { type StepBatch, type StepSettings, TrainingStep } from './step';

const architecture = { layout: 'cifar' as const, depth: 8, alpha: 4, classes: 5, input: { height: 6, width: 6, channels: 2 } };
const settings: StepSettings = { ...RECIPES['paper-cifar10'], labelSmoothing: 0.1 };

function batch(size = 4, mix?: StepBatch['mix']): StepBatch {
  const rng = Rng.fromSeed(8);
  return { images: rng.fillNormal(new Float32Array(size * 72)), labels: Int32Array.from([0, 3, 4, 1].slice(0, size)), size, mix };
}

/** Softmax cross-entropy with label smoothing, in float64, from the definition. */
function crossEntropy64(logits: Float32Array, labels: ArrayLike<number>, classes: number, eps: number): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
    const max = Math.max(...row);
    const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    for (let c = 0; c < classes; c++) total -= ((c === labels[i] ? 1 - eps : 0) + eps / classes) * (row[c] - logSum);
  }
  return total / labels.length;
}

/** The training-mode logits of a twin of the model (same seed), computed apart from the step. */
async function twinLogits(b: StepBatch): Promise<Float32Array> {
  const twin = new PyramidNet(architecture, { seed: 3 });
  const logits = tf.tidy(() => twin.forward(tf.tensor4d(b.images, [b.size, 6, 6, 2]), { training: true }));
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  twin.dispose();
  return values;
}

beforeAll(async () => {
  await useBackend('cpu', { kernels: 'stock' });
});

describe('TrainingStep', () => {
  it("reports the loss of the recipe's label smoothing, computed in float64 from the same logits", async () => {
    const b = batch();
    const step = new TrainingStep(new PyramidNet(architecture, { seed: 3 }), settings);
    const { loss, applied } = await step.run(b, 0.1);
    expect(applied).toBe(true);
    expect(loss).toBeCloseTo(crossEntropy64(await twinLogits(b), b.labels, 5, 0.1), 5);
    step.dispose();
  });

  it('weighs the two labels of a mixed batch by lambda and 1 - lambda', async () => {
    const mixed = Int32Array.from([2, 2, 0, 4]);
    const b = batch(4, { labels: mixed, lambda: 0.3 });
    const step = new TrainingStep(new PyramidNet(architecture, { seed: 3 }), settings);
    const { loss } = await step.run(b, 0.1);
    const logits = await twinLogits(b);
    expect(loss).toBeCloseTo(0.3 * crossEntropy64(logits, b.labels, 5, 0.1) + 0.7 * crossEntropy64(logits, mixed, 5, 0.1), 5);
    step.dispose();
  });

  it("applies the paper's first SGD update: p - lr (1 + momentum) (g + weight decay p), none to BN with noBnDecay", async () => {
    const b = batch();
    const lr = 0.1;
    const twin = new TrainingStep(new PyramidNet(architecture, { seed: 3 }), settings);
    const { loss, predicted, grads } = twin.gradients(b);
    const expected = new Map<string, Float32Array>();
    for (const { name, variable } of twin.model.namedTensors().filter((t) => t.kind === 'parameter')) {
      const p = variable.dataSync();
      const g = grads[variable.name].dataSync();
      const decay = /(^|\.)bn[\w]*\./.test(name) && variable.rank === 1 ? 0 : settings.weightDecay;
      expected.set(name, Float32Array.from(p, (v, i) => v - lr * (1 + settings.momentum) * (g[i] + decay * v)));
    }
    tf.dispose([loss, predicted, ...Object.values(grads)]);
    twin.dispose();
    const step = new TrainingStep(new PyramidNet(architecture, { seed: 3 }), { ...settings, noBnDecay: true });
    await step.run(b, lr);
    for (const { name, variable } of step.model.namedTensors().filter((t) => t.kind === 'parameter')) {
      const got = variable.dataSync();
      expected.get(name)!.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    }
    step.dispose();
  });

  it('leaves the weights and the optimizer untouched when the loss is not finite', async () => {
    const b = batch();
    b.images[5] = Number.NaN;
    const model = new PyramidNet(architecture, { seed: 3 });
    const before = model.namedTensors().filter((t) => t.kind === 'parameter').map((t) => Array.from(t.variable.dataSync()));
    const step = new TrainingStep(model, settings);
    const result = await step.run(b, 0.1);
    expect(result.applied).toBe(false);
    expect(Number.isNaN(result.loss)).toBe(true);
    expect(model.namedTensors().filter((t) => t.kind === 'parameter').map((t) => Array.from(t.variable.dataSync()))).toEqual(before);
    expect(step.optimizer.state()).toMatchObject({ started: false });
    expect(step.optimizer.state().buffers.size).toBe(0);
    step.dispose();
  });
});

describe('TrainingStep for fine-tuning', () => {
  const values = (model: PyramidNet) => new Map(model.namedTensors().map((t) => [t.name, Array.from(t.variable.dataSync())]));

  it.each([
    ['body', (name: string) => !name.startsWith('fc.')],
    ['all-but-last-stage', (name: string) => /^(conv1|bn1|layer1|layer2)\./.test(name)],
  ] as const)("freeze '%s' leaves exactly those parameters as they were", async (freeze, frozen) => {
    const model = new PyramidNet(architecture, { seed: 3 });
    const before = values(model);
    const step = new TrainingStep(model, { ...settings, freeze });
    await step.run(batch(), 0.1);
    const after = values(model);
    for (const { name, kind } of model.namedTensors()) {
      if (kind !== 'parameter') continue;
      if (frozen(name)) expect(after.get(name), name).toEqual(before.get(name));
      else expect(after.get(name), name).not.toEqual(before.get(name));
    }
    // Running statistics still follow the data, as in PyTorch with requires_grad off.
    expect(after.get('layer1.0.bn1.running_mean')).not.toEqual(before.get('layer1.0.bn1.running_mean'));
    step.dispose();
  });

  it('headLrMultiplier scales the classifier update alone (compared with a twin at multiplier 1)', async () => {
    const plain: StepSettings = { ...settings, momentum: 0, nesterov: false, weightDecay: 0 };
    const updates = async (headLrMultiplier: number) => {
      const model = new PyramidNet(architecture, { seed: 3 });
      const before = values(model);
      const step = new TrainingStep(model, { ...plain, headLrMultiplier });
      await step.run(batch(), 0.1);
      const after = values(model);
      step.dispose();
      return new Map([...after].map(([name, v]) => [name, v.map((x, i) => x - before.get(name)![i])]));
    };
    const one = await updates(1);
    const ten = await updates(10);
    for (const [name, delta] of ten) {
      const scale = name.startsWith('fc.') ? 10 : 1;
      const expected = one.get(name)!.map((d) => d * scale);
      const worst = Math.max(...delta.map((d, i) => Math.abs(d - expected[i])));
      const size = Math.max(...expected.map(Math.abs), 1e-12);
      expect(worst / size, name).toBeLessThan(1e-4);
    }
  });
});
