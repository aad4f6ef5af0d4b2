import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sgd } from './optimizer';

beforeAll(async () => {
  await useBackend('cpu', { kernels: 'stock' });
});

/** torch.optim.SGD's update written out in float64, the documented algorithm line by line. */
function torchSgd(p: number[], grads: number[][], lr: number, momentum: number, wd: number, nesterov: boolean, dampening = 0): number[] {
  const buf = p.map(() => 0);
  let first = true;
  for (const grad of grads) {
    for (let i = 0; i < p.length; i++) {
      let g = grad[i] + wd * p[i];
      buf[i] = first ? g : momentum * buf[i] + (1 - dampening) * g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
      p[i] -= lr * g;
    }
    first = false;
  }
  return p;
}

describe('Sgd', () => {
  it.each([
    ['Nesterov with weight decay (the paper)', 0.9, 1e-4, true, 0],
    ['plain momentum', 0.9, 0, false, 0],
    ['dampened momentum', 0.9, 5e-4, false, 0.5],
  ])('matches torch.optim.SGD: %s', (_, momentum, wd, nesterov, dampening) => {
    const start = [0.5, -1.25, 2];
    const grads = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]];
    const variable = tf.variable(tf.tensor1d(start));
    const sgd = new Sgd([{ name: 'w', variable }], { momentum, dampening, nesterov, weightDecay: wd });
    for (const g of grads) sgd.step({ [variable.name]: tf.tensor1d(g) }, 0.1);
    const expected = torchSgd([...start], grads, 0.1, momentum, wd, nesterov, dampening);
    Array.from(variable.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('exempts named parameters from weight decay', () => {
    const a = tf.variable(tf.tensor1d([1]));
    const b = tf.variable(tf.tensor1d([1]));
    const sgd = new Sgd([{ name: 'conv.weight', variable: a }, { name: 'bn.weight', variable: b }], { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.5, noDecay: new Set(['bn.weight']) });
    sgd.step({ [a.name]: tf.tensor1d([0]), [b.name]: tf.tensor1d([0]) }, 1);
    expect([a.dataSync()[0], b.dataSync()[0]]).toEqual([0.5, 1]);
  });

  it('restores its momentum buffers so that training continues identically', () => {
    const run = (restore: boolean) => {
      const v = tf.variable(tf.tensor1d([1, 2]));
      let sgd = new Sgd([{ name: 'w', variable: v }], { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4 });
      sgd.step({ [v.name]: tf.tensor1d([0.5, -0.5]) }, 0.1);
      if (restore) {
        const { started, buffers } = sgd.state();
        const saved = new Map([...buffers].map(([k, b]) => [k, { shape: b.shape, values: b.dataSync().slice() as Float32Array }]));
        sgd = new Sgd([{ name: 'w', variable: v }], { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4 });
        sgd.load(started, saved);
      }
      sgd.step({ [v.name]: tf.tensor1d([0.25, 0.75]) }, 0.1);
      return Array.from(v.dataSync());
    };
    expect(run(true)).toEqual(run(false));
  });
});
