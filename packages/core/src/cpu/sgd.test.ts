// The CPU's one-call SGD step against the two kernels per parameter it replaces (a second path
// through the same update, itself held to float64 references by the training-step tests), and one
// element against a hand computation.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { sgdUpdate, sgdUpdateAll } from '../ops/sgd';

const SHAPES = [[3, 3, 5, 7], [7], [1], [12, 10]];

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 + seed * 78.233) * 0.5);
}

function variables(seed: number) {
  return SHAPES.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), seed + i), shape)));
}

describe('SGD on the CPU: every parameter in one kernel call', () => {
  it.each([
    ['Nesterov, momentum buffers from an earlier step', { nesterov: true, first: false, dampening: 0 }],
    ['plain momentum, first step, dampening 0.1', { nesterov: false, first: true, dampening: 0.1 }],
  ])('equals the per-parameter kernels bit for bit: %s', async (_, settings) => {
    await cpuBackendPlugin.setup({ threads: 1 });
    const options = { lr: 0.05, momentum: 0.9, ...settings };
    const weightDecays = [1e-4, 0, 5e-4, 1e-4];
    const [oneCall, perParameter] = [variables(1), variables(1)];
    const [buffersOneCall, buffersPerParameter] = [variables(20), variables(20)];
    const grads = SHAPES.map((shape, i) => tf.tensor(values(shape.reduce((a, b) => a * b, 1), 40 + i), shape));

    const profile = await tf.profile(() => sgdUpdateAll(oneCall, grads, buffersOneCall, { ...options, weightDecays }));
    expect(profile.kernels.map((k) => k.name)).toEqual(['PyramidSgdStep']);
    perParameter.forEach((p, i) => sgdUpdate(p, grads[i], buffersPerParameter[i], { ...options, weightDecay: weightDecays[i] }));

    for (let i = 0; i < SHAPES.length; i++) {
      expect(oneCall[i].dataSync()).toEqual(perParameter[i].dataSync());
      expect(buffersOneCall[i].dataSync()).toEqual(buffersPerParameter[i].dataSync());
    }
    tf.dispose([...oneCall, ...perParameter, ...buffersOneCall, ...buffersPerParameter, ...grads]);
  });

  it('updates one element as computed by hand (Nesterov, weight decay)', async () => {
    await cpuBackendPlugin.setup({ threads: 1 });
    const param = tf.variable(tf.tensor1d([1]));
    const buffer = tf.variable(tf.tensor1d([0.2]));
    sgdUpdateAll([param], [tf.tensor1d([0.5])], [buffer], { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, first: false, weightDecays: [0.1] });
    // g = 0.5 + 0.1 * 1 = 0.6; buffer = 0.9 * 0.2 + 0.6 = 0.78; p = 1 - 0.1 (0.6 + 0.9 * 0.78) = 0.8698.
    expect(buffer.dataSync()[0]).toBeCloseTo(0.78, 6);
    expect(param.dataSync()[0]).toBeCloseTo(0.8698, 6);
    tf.dispose([param, buffer]);
  });
});
