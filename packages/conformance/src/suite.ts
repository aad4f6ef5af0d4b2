import * as tf from '@tensorflow/tfjs-core';
import { type BackendOptions, Rng, averagePool2x2CeilMode, batchNormTraining, relativeError, shortcutAdd, useBackend } from '@pyramid/core';
import { PyramidNet, type ArchitectureConfig } from '@pyramid/pyramidnet';
import { RECIPES, Sgd, TrainingStep, crossEntropy } from '@pyramid/train';

/**
 * One conformance check: a computation on tensors made from `inputs`, returning named outputs
 * (forward values and gradients) to compare between backends.
 */
export interface Check {
  name: string;
  /** Relative tolerance on max |a - b| / max |b| (floored at 1e-3 of the largest output of the check). */
  tolerance: number;
  /**
   * Draw the inputs from this seed rather than the run's. Whole-model gradients pass through ReLUs
   * and max pools, whose branch flips when an input lies within float32 rounding of the kink (a
   * pre-activation near 0, two near-equal maxima); backends that round differently then disagree
   * by a whole gradient term. Model checks therefore use a seed whose margins (`kinkMargins`) are
   * far above the rounding, which model-seeds.test.ts keeps true.
   */
  seed?: number;
  inputs: (rng: Rng) => Record<string, { shape: number[]; values: Float32Array }>;
  run: (t: Record<string, tf.Tensor>) => Record<string, tf.Tensor>;
}

const normal = (rng: Rng, shape: number[], mean = 0, std = 1) => ({ shape, values: rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), mean, std) });

function convCheck(name: string, x: number[], f: number[], stride: number, pad: number | 'same'): Check {
  return {
    name,
    tolerance: 1e-4,
    inputs: (rng) => {
      const oh = pad === 'same' ? Math.ceil(x[1] / stride) : Math.floor((x[1] + 2 * (pad as number) - f[0]) / stride) + 1;
      const ow = pad === 'same' ? Math.ceil(x[2] / stride) : Math.floor((x[2] + 2 * (pad as number) - f[1]) / stride) + 1;
      return { x: normal(rng, x), f: normal(rng, f), dy: normal(rng, [x[0], oh, ow, f[3]]) };
    },
    run: ({ x, f, dy }) => {
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), dy));
      const [dx, df] = tf.grads(loss)([x, f]);
      return { forward: tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad), inputGradient: dx, filterGradient: df };
    },
  };
}

function weightedGrads(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  return tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(fn(...xs), dy)))(inputs);
}

/** Every kernel PyramidNet training uses, forward and backward, at strides 1 and 2. */
export const KERNEL_CHECKS: Check[] = [
  convCheck('conv 3x3 stride 1 (Conv2D, both gradients)', [2, 9, 9, 6], [3, 3, 6, 7], 1, 1),
  convCheck('conv 3x3 stride 2, odd size', [2, 9, 9, 6], [3, 3, 6, 7], 2, 1),
  convCheck('conv 1x1 (bottleneck)', [2, 6, 6, 12], [1, 1, 12, 5], 1, 0),
  convCheck('conv 7x7 stride 2 (ImageNet stem)', [1, 23, 23, 3], [7, 7, 3, 8], 2, 3),
  convCheck("conv 3x3 stride 2, 'same' padding", [2, 8, 10, 4], [3, 3, 4, 5], 2, 'same'),
  {
    name: 'batch norm, training mode, with its gradients',
    tolerance: 2e-4,
    inputs: (rng) => ({ x: normal(rng, [4, 5, 5, 7], 1, 2), scale: normal(rng, [7], 1, 0.3), offset: normal(rng, [7]), dy: normal(rng, [4, 5, 5, 7]) }),
    run: ({ x, scale, offset, dy }) => {
      const f = (a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => batchNormTraining(a as tf.Tensor4D, s as tf.Tensor1D, o as tf.Tensor1D, 1e-5).y;
      const [dx, ds, dof] = weightedGrads(f, [x, scale, offset], dy);
      const r = batchNormTraining(x as tf.Tensor4D, scale as tf.Tensor1D, offset as tf.Tensor1D, 1e-5);
      return { y: r.y, mean: r.mean, variance: r.variance, dx, dScale: ds, dOffset: dof };
    },
  },
  {
    name: 'batch norm and ReLU, training mode, with gradients',
    tolerance: 2e-4,
    inputs: (rng) => ({ x: normal(rng, [3, 4, 4, 9]), scale: normal(rng, [9], 1, 0.3), offset: normal(rng, [9]), dy: normal(rng, [3, 4, 4, 9]) }),
    run: ({ x, scale, offset, dy }) => {
      const f = (a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => batchNormTraining(a as tf.Tensor4D, s as tf.Tensor1D, o as tf.Tensor1D, 1e-5, true).y;
      const [dx, ds, dof] = weightedGrads(f, [x, scale, offset], dy);
      return { y: f(x, scale, offset), dx, dScale: ds, dOffset: dof };
    },
  },
  {
    name: 'batch norm, inference (FusedBatchNorm)',
    tolerance: 1e-5,
    inputs: (rng) => ({ x: normal(rng, [2, 6, 6, 5]), mean: normal(rng, [5]), variance: { shape: [5], values: Float32Array.from({ length: 5 }, () => 0.5 + rng.uniform()) }, scale: normal(rng, [5]), offset: normal(rng, [5]) }),
    run: ({ x, mean, variance, scale, offset }) => ({ y: tf.batchNorm4d(x as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, offset as tf.Tensor1D, scale as tf.Tensor1D, 1e-5) }),
  },
  {
    name: 'average pool 2x2 with ceil mode, and its gradient',
    tolerance: 1e-5,
    inputs: (rng) => ({ x: normal(rng, [2, 7, 9, 3]), dy: normal(rng, [2, 4, 5, 3]) }),
    run: ({ x, dy }) => ({ y: averagePool2x2CeilMode(x as tf.Tensor4D), dx: weightedGrads((a) => averagePool2x2CeilMode(a as tf.Tensor4D), [x], dy)[0] }),
  },
  {
    name: 'max pool 3x3 stride 2 padding 1, and its gradient',
    tolerance: 1e-5,
    inputs: (rng) => ({ x: normal(rng, [2, 9, 9, 4]), dy: normal(rng, [2, 5, 5, 4]) }),
    run: ({ x, dy }) => ({ y: tf.maxPool(x as tf.Tensor4D, 3, 2, 1), dx: weightedGrads((a) => tf.maxPool(a as tf.Tensor4D, 3, 2, 1), [x], dy)[0] }),
  },
  {
    name: 'zero-padded shortcut and addition, and gradients',
    tolerance: 1e-5,
    inputs: (rng) => ({ residual: normal(rng, [2, 4, 5, 11]), x: normal(rng, [2, 7, 9, 6]), dy: normal(rng, [2, 4, 5, 11]) }),
    run: ({ residual, x, dy }) => {
      const [dr, dx] = weightedGrads((r, a) => shortcutAdd(r as tf.Tensor4D, a as tf.Tensor4D, 2), [residual, x], dy);
      return { y: shortcutAdd(residual as tf.Tensor4D, x as tf.Tensor4D, 2), dResidual: dr, dx };
    },
  },
  {
    name: 'channel padding (tf.pad) and its gradient',
    tolerance: 1e-6,
    inputs: (rng) => ({ x: normal(rng, [2, 3, 3, 4]), dy: normal(rng, [2, 3, 3, 7]) }),
    run: ({ x, dy }) => {
      const f = (a: tf.Tensor) => tf.pad(a, [[0, 0], [0, 0], [0, 0], [0, 3]]);
      return { y: f(x), dx: weightedGrads(f, [x], dy)[0] };
    },
  },
  {
    name: 'ReLU and its gradient',
    tolerance: 1e-6,
    inputs: (rng) => ({ x: normal(rng, [3, 17]), dy: normal(rng, [3, 17]) }),
    run: ({ x, dy }) => ({ y: tf.relu(x), dx: weightedGrads((a) => tf.relu(a), [x], dy)[0] }),
  },
  {
    name: 'global average pool, fully connected, softmax cross-entropy, gradients',
    tolerance: 1e-5,
    inputs: (rng) => ({ h: normal(rng, [4, 3, 3, 6]), w: normal(rng, [6, 5]), b: normal(rng, [5]), labels: { shape: [4], values: Float32Array.from([0, 3, 4, 1]) } }),
    run: ({ h, w, b, labels }) => {
      const y = tf.cast(labels, 'int32') as tf.Tensor1D;
      const loss = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => crossEntropy(tf.add(tf.matMul(tf.mean(a, [1, 2]) as tf.Tensor2D, ww as tf.Tensor2D), bb) as tf.Tensor2D, y, 0.1);
      const [dh, dw, db] = tf.grads(loss)([h, w, b]);
      return { loss: loss(h, w, b), dh, dw, db };
    },
  },
  {
    name: 'SGD update (Nesterov momentum, weight decay), three steps',
    tolerance: 1e-6,
    inputs: (rng) => ({ p: normal(rng, [10]), g1: normal(rng, [10]), g2: normal(rng, [10]), g3: normal(rng, [10]) }),
    run: ({ p, g1, g2, g3 }) => {
      const v = tf.variable(tf.clone(p));
      const sgd = new Sgd([{ name: 'p', variable: v }], { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4 });
      for (const g of [g1, g2, g3]) sgd.step({ [v.name]: g }, 0.1);
      const out = tf.clone(v);
      sgd.dispose();
      v.dispose();
      return { p: out };
    },
  },
  {
    name: 'SGD update of several parameters, one exempt from weight decay, three steps',
    tolerance: 1e-6,
    inputs: (rng) => {
      const shapes = { a: [10], b: [3, 4], c: [5], d: [2, 2, 3] };
      const out: Record<string, { shape: number[]; values: Float32Array }> = {};
      for (const [name, shape] of Object.entries(shapes)) {
        out[name] = normal(rng, shape);
        for (const step of [1, 2, 3]) out[`${name}${step}`] = normal(rng, shape);
      }
      return out;
    },
    run: (t) => {
      const names = ['a', 'b', 'c', 'd'];
      const vars = names.map((name) => ({ name, variable: tf.variable(tf.clone(t[name])) }));
      const sgd = new Sgd(vars, { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-2, noDecay: new Set(['c']) });
      for (const step of [1, 2, 3]) sgd.step(Object.fromEntries(vars.map((v) => [v.variable.name, t[`${v.name}${step}`]])), 0.1);
      const out = Object.fromEntries(vars.map((v) => [v.name, tf.clone(v.variable)]));
      for (const [name, b] of sgd.state().buffers) out[`momentum ${name}`] = tf.clone(b);
      sgd.dispose();
      for (const v of vars) v.variable.dispose();
      return out;
    },
  },
];

/** A batch of normal images for `config` and a random label for each. */
function labelledBatch(rng: Rng, config: ArchitectureConfig, batch: number) {
  const { height, width, channels } = config.input!;
  return {
    x: normal(rng, [batch, height, width, channels]),
    labels: { shape: [batch], values: Float32Array.from({ length: batch }, () => rng.int(config.classes)) },
  };
}

/**
 * A whole PyramidNet: eval-mode logits, then the trainer's own step (`TrainingStep` with the
 * paper's settings): its loss, every parameter gradient, the running statistics it leaves and the
 * parameters after its SGD update.
 */
export function modelCheck(name: string, config: ArchitectureConfig, batch: number, seed: number): Check {
  return {
    name,
    tolerance: 1e-3,
    seed,
    inputs: (rng) => labelledBatch(rng, config, batch),
    run: ({ x, labels }) => {
      const model = new PyramidNet(config, { seed: 11 });
      const y = tf.cast(labels, 'int32') as tf.Tensor1D;
      const logits = model.predict(x as tf.Tensor4D);
      const params = model.namedTensors().filter((t) => t.kind === 'parameter');
      const step = new TrainingStep(model, RECIPES['paper-cifar10']);
      const { loss, predicted, grads } = step.tensorGradients(x as tf.Tensor4D, y);
      const out: Record<string, tf.Tensor> = { logits, loss };
      for (const p of params) out[`grad ${p.name}`] = grads[p.variable.name];
      const running = model.namedTensors().filter((t) => t.name.endsWith('running_var'));
      for (const r of running) out[`after step ${r.name}`] = tf.clone(r.variable);
      step.apply(grads, STEP_LR);
      for (const p of params) out[`after step ${p.name}`] = tf.clone(p.variable);
      const kept = Object.values(out).map((t) => tf.clone(t));
      predicted.dispose();
      step.dispose();
      model.dispose();
      return Object.fromEntries(Object.keys(out).map((k, i) => [k, kept[i]]));
    },
  };
}

/**
 * The trainer's step run `steps` times on one batch (the paper's settings, so Nesterov momentum and
 * batch norms exempt from weight decay): every parameter, momentum buffer and running statistic
 * after the last update.
 */
export function trainingStepsCheck(name: string, config: ArchitectureConfig, batch: number, seed: number, steps: number): Check {
  return {
    name,
    tolerance: 1e-3,
    seed,
    inputs: (rng) => labelledBatch(rng, config, batch),
    run: ({ x, labels }) => {
      const model = new PyramidNet(config, { seed: 11 });
      const y = tf.cast(labels, 'int32') as tf.Tensor1D;
      const step = new TrainingStep(model, RECIPES['paper-cifar10']);
      for (let i = 0; i < steps; i++) {
        const { loss, predicted, grads } = step.tensorGradients(x as tf.Tensor4D, y);
        step.apply(grads, STEP_LR);
        tf.dispose([loss, predicted, ...Object.values(grads)]);
      }
      const out: Record<string, tf.Tensor> = {};
      for (const t of model.namedTensors()) out[t.name] = tf.clone(t.variable);
      for (const [name, b] of step.optimizer.state().buffers) out[`momentum ${name}`] = tf.clone(b);
      step.dispose();
      model.dispose();
      return out;
    },
  };
}

/** The learning rate of the model checks' update: the paper's CIFAR-10 rate. */
const STEP_LR = 0.1;

export const MODEL_CHECKS: Check[] = [
  modelCheck('PyramidNet-8 (CIFAR, basic, odd 17x17 input)', { layout: 'cifar', depth: 8, alpha: 12, classes: 10, input: { height: 17, width: 17, channels: 3 } }, 4, 17),
  modelCheck('PyramidNet-14 (ImageNet layout, bottleneck, 35x35)', { layout: 'imagenet', depth: 14, alpha: 8, classes: 7, input: { height: 35, width: 35, channels: 3 } }, 2, 34),
  trainingStepsCheck('PyramidNet-8 (CIFAR, basic, odd 17x17 input), three training steps', { layout: 'cifar', depth: 8, alpha: 12, classes: 10, input: { height: 17, width: 17, channels: 3 } }, 4, 17, 3),
];

export interface CheckResult {
  name: string;
  output: string;
  error: number;
  tolerance: number;
  passed: boolean;
}

async function evaluate(checks: Check[], seed: number): Promise<Map<string, Map<string, Float32Array>>> {
  const results = new Map<string, Map<string, Float32Array>>();
  for (const check of checks) {
    const rng = Rng.fromSeed(check.seed ?? seed).fork(check.name);
    const inputs = check.inputs(rng);
    const outputs = tf.tidy(() => {
      const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
      return check.run(tensors);
    });
    const values = new Map<string, Float32Array>();
    for (const [k, t] of Object.entries(outputs)) {
      values.set(k, (await t.data()) as Float32Array);
      t.dispose();
    }
    results.set(check.name, values);
  }
  return results;
}

/**
 * Runs every check on the reference backend (the CPU backend with tfjs's stock kernels), then on
 * the target, with the same random inputs, and reports each output's error.
 */
export async function runConformance(target: { backend: string; options?: BackendOptions }, options: { seed?: number; checks?: Check[] } = {}): Promise<{ seed: number; detail: string; results: CheckResult[] }> {
  const seed = options.seed ?? Date.now() % 1_000_000;
  const checks = options.checks ?? [...KERNEL_CHECKS, ...MODEL_CHECKS];
  await useBackend('cpu', { kernels: 'stock' });
  const expected = await evaluate(checks, seed);
  const info = await useBackend(target.backend, target.options ?? {});
  const actual = await evaluate(checks, seed);
  const results: CheckResult[] = [];
  for (const check of checks) {
    const want = expected.get(check.name)!;
    const got = actual.get(check.name)!;
    const largest = Math.max(...[...want.values()].map((v) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
    for (const [output, values] of want) {
      const error = relativeError(got.get(output)!, values, largest * 1e-3);
      results.push({ name: check.name, output, error, tolerance: check.tolerance, passed: error <= check.tolerance });
    }
  }
  await useBackend('cpu', { kernels: 'stock' });
  return { seed, detail: `${info.name} (${info.detail})`, results };
}
