import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ForwardContext } from './module';
import { ShakeDrop, linearKeepProbabilities } from './shakedrop';
import { BasicUnit, BottleneckUnit, type PyramidalUnit } from './units';

beforeAll(async () => {
  await useBackend('cpu');
});

function randomTensor(shape: number[], rng: Rng): tf.Tensor {
  return tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);
}

/**
 * Compares tf.grads of loss = sum(unit(x) * r) with central finite differences at a few
 * coordinates of the input and of every convolution kernel.
 */
function gradientCheck(unit: PyramidalUnit, inputShape: number[], ctx: ForwardContext): void {
  const rng = Rng.fromSeed(99);
  const x = randomTensor(inputShape, rng) as tf.Tensor4D;
  const outShape = unit.forward(x, ctx).shape;
  const r = randomTensor(outShape, rng);
  const loss = (input: tf.Tensor4D) => tf.sum(tf.mul(unit.forward(input, ctx), r)) as tf.Scalar;
  const kernels = unit.namedTensors().filter((t) => t.name.endsWith('conv1.weight') || t.name.endsWith('conv2.weight'));
  const { grads } = tf.variableGrads(() => loss(x), kernels.map((t) => t.variable));
  const dx = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor4D))(x);
  const eps = 3e-3;
  const numeric = (perturb: (delta: number) => void) => {
    perturb(eps);
    const up = loss(x).dataSync()[0];
    perturb(-2 * eps);
    const down = loss(x).dataSync()[0];
    perturb(eps);
    return (up - down) / (2 * eps);
  };
  const close = (analytic: number, approx: number, what: string) =>
    expect(Math.abs(analytic - approx), `${what}: analytic ${analytic}, numeric ${approx}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(approx)));
  const xValues = x.dataSync().slice();
  for (const i of [0, 7, xValues.length - 1]) {
    const approx = (() => {
      const at = (delta: number) => {
        const shifted = xValues.slice();
        shifted[i] += delta;
        return loss(tf.tensor4d(shifted, x.shape)).dataSync()[0];
      };
      return (at(eps) - at(-eps)) / (2 * eps);
    })();
    close(dx.dataSync()[i], approx, `input[${i}]`);
  }
  for (const t of kernels) {
    const values = t.variable.dataSync().slice();
    for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
      const approx = numeric((d) => {
        values[i] += d;
        t.variable.assign(tf.tensor(values, t.variable.shape));
      });
      close(grads[t.variable.name].dataSync()[i], approx, `${t.name}[${i}]`);
    }
  }
}

describe('basic pyramidal unit', () => {
  it('has the paper’s layers in order, and its shortcut adds no parameters', () => {
    const unit = new BasicUnit({ inChannels: 4, width: 6, stride: 2 }, Rng.fromSeed(0));
    expect(unit.namedTensors().filter((t) => t.kind === 'parameter').map((t) => `${t.name}:${t.variable.shape.join('x')}`)).toEqual([
      'bn1.weight:4', 'bn1.bias:4', 'conv1.weight:3x3x4x6', 'bn2.weight:6', 'bn2.bias:6',
      'conv2.weight:3x3x6x6', 'bn3.weight:6', 'bn3.bias:6',
    ]);
  });

  it('computes BN, conv, BN, ReLU, conv, BN plus the zero-padded, pooled shortcut', () => {
    // Recomputed here from tfjs ops, independently of the unit's own code path.
    const rng = Rng.fromSeed(5);
    const unit = new BasicUnit({ inChannels: 2, width: 3, stride: 2 }, rng);
    const x = randomTensor([2, 5, 5, 2], rng) as tf.Tensor4D;
    const bn = (t: tf.Tensor4D) => {
      const { mean, variance } = tf.moments(t, [0, 1, 2]);
      return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor4D; // gamma 1, beta 0
    };
    let r = tf.conv2d(bn(x), unit.conv1.weight as tf.Tensor4D, 2, 1);
    r = tf.relu(bn(r));
    r = bn(tf.conv2d(r, unit.conv2.weight as tf.Tensor4D, 1, 1));
    const s = tf.pad(tf.avgPool(x, 2, 2, 'same'), [[0, 0], [0, 0], [0, 0], [0, 1]]);
    const expected = tf.add(r, s).dataSync();
    const actual = unit.forward(x, { training: true }).dataSync();
    actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('passes a gradient check in training mode, downsampling and widening', () => {
    gradientCheck(new BasicUnit({ inChannels: 2, width: 3, stride: 2 }, Rng.fromSeed(1)), [2, 5, 5, 2], { training: true });
  });

  it('follows the unit-design table', () => {
    const names = (design: 'preact' | 'no-first-relu' | 'last-bn' | 'pyramid') =>
      new BasicUnit({ inChannels: 2, width: 2, stride: 1, design }, Rng.fromSeed(0)).namedTensors().some((t) => t.name.startsWith('bn3.'));
    expect([names('preact'), names('no-first-relu'), names('last-bn'), names('pyramid')]).toEqual([false, false, true, true]);
    const unit = new BasicUnit({ inChannels: 2, width: 2, stride: 1, design: 'preact' }, Rng.fromSeed(0));
    expect(unit.firstRelu).toBe(true);
  });
});

describe('bottleneck pyramidal unit', () => {
  it('expands its width four times', () => {
    const unit = new BottleneckUnit({ inChannels: 16, width: 5, stride: 1 }, Rng.fromSeed(0));
    expect(unit.outChannels).toBe(20);
    expect(unit.conv3.weight.shape).toEqual([1, 1, 5, 20]);
    expect(unit.bn4!.channels).toBe(20);
  });

  it('passes a gradient check in training mode', () => {
    gradientCheck(new BottleneckUnit({ inChannels: 3, width: 2, stride: 2 }, Rng.fromSeed(2)), [2, 5, 5, 3], { training: true });
  });

  it('passes a gradient check with the projection shortcut', () => {
    gradientCheck(new BottleneckUnit({ inChannels: 3, width: 2, stride: 1, shortcut: 'projection' }, Rng.fromSeed(3)), [2, 4, 4, 3], { training: true });
  });
});

describe('ShakeDrop', () => {
  it('scales by p_l in eval mode, the expectation of b + alpha - b * alpha', () => {
    const y = new ShakeDrop(0.75).forward(tf.ones([1, 1, 1, 2]) as tf.Tensor4D, { training: false });
    expect(Array.from(y.dataSync())).toEqual([0.75, 0.75]);
  });

  it('scales forward by b + alpha - b alpha and backward by b + beta - b beta, per image', () => {
    // A source with known draws, per image: gate, then uniforms u1 and u2, so that alpha = 2 u1 - 1
    // and beta = u2. Gate 0, u (0.25, 0.5): forward -0.5, backward 0.5; gate 1, u (0.75, 0.125):
    // 1 both ways; gate 0, u (0.5, 0.875): forward 0, backward 0.875.
    const rng = () => {
      const gates = [false, true, false];
      const uniforms = [0.25, 0.5, 0.75, 0.125, 0.5, 0.875];
      return { bernoulli: () => gates.shift()!, uniform: () => uniforms.shift()! } as unknown as Rng;
    };
    const shake = new ShakeDrop(0.5, 'image');
    const x = tf.ones([3, 2, 2, 1]) as tf.Tensor4D;
    const value = Array.from(shake.forward(x, { training: true, rng: rng() }).dataSync());
    const grad = Array.from(tf.grad((t: tf.Tensor) => tf.sum(shake.forward(t as tf.Tensor4D, { training: true, rng: rng() })))(x).dataSync());
    expect(value).toEqual([-0.5, -0.5, -0.5, -0.5, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(grad).toEqual([0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 0.875, 0.875, 0.875, 0.875]);
  });

  it('draws one gate per batch by default, as the reference implementations do', () => {
    // keep 0.5: with a gate per batch, every image of a batch is either all kept (factor 1) or
    // none is; per image, a batch of 64 would mix them.
    const x = tf.ones([64, 1, 1, 1]) as tf.Tensor4D;
    for (let seed = 0; seed < 20; seed++) {
      const factors = Array.from(new ShakeDrop(0.5).forward(x, { training: true, rng: Rng.fromSeed(seed) }).dataSync());
      const kept = factors.filter((f) => f === 1).length;
      expect(kept === 0 || kept === 64).toBe(true);
    }
    const mixed = Array.from(new ShakeDrop(0.5, 'image').forward(x, { training: true, rng: Rng.fromSeed(1) }).dataSync()).filter((f) => f === 1).length;
    expect(mixed > 0 && mixed < 64).toBe(true);
  });

  it('is the identity forward and backward when the unit is always kept', () => {
    const x = tf.tensor4d([1, -2, 3, 4], [2, 1, 1, 2]);
    const rng = Rng.fromSeed(1);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(new ShakeDrop(1).forward(t as tf.Tensor4D, { training: true, rng }), 2)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 2, 2, 2]);
  });

  it('decays the keep probability linearly to p_L', () => {
    // p_l = 1 - (l / L)(1 - 0.5) for L = 4: 0.875, 0.75, 0.625, 0.5.
    expect(linearKeepProbabilities(4)).toEqual([0.875, 0.75, 0.625, 0.5]);
  });
});
