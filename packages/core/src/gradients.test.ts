import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from './backends/cpu';
import { variableGradsReleasing } from './gradients';
import { batchNormTraining } from './ops/batch-norm';
import { shortcutAdd } from './ops/shortcut-add';

beforeAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'project', threads: 1 });
});
afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

/** A residual network in miniature: 12 units of BN, conv, BN-ReLU, conv and the shortcut. */
function network(depth: number) {
  const filters = Array.from({ length: 2 * depth }, (_, i) => tf.variable(tf.randomNormal([3, 3, 8, 8], 0, 0.2, 'float32', i + 1), true, `w${i}`));
  const scales = Array.from({ length: 2 * depth }, (_, i) => tf.variable(tf.ones([8]), true, `s${i}`));
  const offsets = Array.from({ length: 2 * depth }, (_, i) => tf.variable(tf.zeros([8]), true, `o${i}`));
  const x = tf.randomNormal([4, 16, 16, 8], 0, 1, 'float32', 99) as tf.Tensor4D;
  const loss = () => {
    let h = x;
    for (let u = 0; u < depth; u++) {
      let r = batchNormTraining(h, scales[2 * u] as tf.Tensor1D, offsets[2 * u] as tf.Tensor1D, 1e-5).y;
      r = tf.conv2d(r, filters[2 * u] as tf.Tensor4D, 1, 'same');
      r = batchNormTraining(r, scales[2 * u + 1] as tf.Tensor1D, offsets[2 * u + 1] as tf.Tensor1D, 1e-5, true).y;
      r = tf.conv2d(r, filters[2 * u + 1] as tf.Tensor4D, 1, 'same');
      h = shortcutAdd(r, h, 1) as tf.Tensor4D;
    }
    return tf.mean(tf.square(h)) as tf.Scalar;
  };
  return { loss, variables: [...filters, ...scales, ...offsets], dispose: () => tf.dispose([x, ...filters, ...scales, ...offsets]) };
}

describe('variableGradsReleasing', () => {
  it('gives exactly the gradients of tf.variableGrads', () => {
    const net = network(4);
    const plain = tf.variableGrads(net.loss, net.variables);
    const releasing = variableGradsReleasing(net.loss, net.variables);
    expect(releasing.value.dataSync()[0]).toBe(plain.value.dataSync()[0]);
    for (const name of Object.keys(plain.grads)) expect(Array.from(releasing.grads[name].dataSync()), name).toEqual(Array.from(plain.grads[name].dataSync()));
    tf.dispose([plain.value, releasing.value, ...Object.values(plain.grads), ...Object.values(releasing.grads)]);
    net.dispose();
  });

  it('frees saved tensors and gradients during the backward pass: fewer arrays held, nothing left behind', () => {
    // A probe between layers counts the arrays the backend holds whenever the backward pass goes
    // through it (and passes the gradient on unchanged, which must survive the release).
    let counts: number[] = [];
    const probe = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        counts.push(tf.engine().backend.numDataIds());
        return dy;
      },
    }));
    const filters = Array.from({ length: 16 }, (_, i) => tf.variable(tf.randomNormal([3, 3, 8, 8], 0, 0.1, 'float32', i + 1), true, `chain${i}`));
    const x = tf.randomNormal([4, 16, 16, 8], 0, 1, 'float32', 7) as tf.Tensor4D;
    const loss = () => {
      let h: tf.Tensor = x;
      for (const w of filters) h = probe(tf.square(tf.conv2d(h as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')));
      return tf.sum(h) as tf.Scalar;
    };
    const heldDuringBackward = (take: typeof tf.variableGrads) => {
      counts = [];
      const before = tf.memory().numTensors;
      const { value, grads } = take(loss, filters);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      return Math.max(...counts);
    };
    const plain = heldDuringBackward(tf.variableGrads);
    const releasing = heldDuringBackward(variableGradsReleasing);
    // 32 activations saved and, as the backward pass goes, a gradient of each: tfjs holds them all
    // to the end (about 64 arrays at the first layer), freeing as it goes holds the activations.
    expect(releasing).toBeLessThan(0.7 * plain);
    tf.dispose([x, ...filters]);
  });
});
