import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { relativeError, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { toFloat32, toIntegers } from './safetensors';
import { REFERENCE_FIXTURES, loadFixture, nchwToNhwc } from './test-fixtures';
import { exportStateDict } from './weights';

const fixtureFiles = readdirSync(REFERENCE_FIXTURES).filter((f) => f.endsWith('.safetensors'));

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(fixtureFiles)('matches the reference PyTorch PyramidNet: %s', (file) => {
  it('eval-mode logits within 1e-4 relative', () => {
    const { model, tensors } = loadFixture(file);
    const logits = model.predict(nchwToNhwc(tensors.get('input.nchw')!));
    expect(relativeError(logits.dataSync(), toFloat32(tensors.get('eval_logits')!))).toBeLessThan(1e-4);
  });

  it('train-mode logits, running statistics and gradients', async () => {
    const { model, tensors, section } = loadFixture(file);
    const x = nchwToNhwc(tensors.get('input.nchw')!);
    const labels = toIntegers(tensors.get('labels')!);
    const classes = model.architecture.classes;
    let logits: Float32Array = new Float32Array();
    const { value: loss, grads } = tf.variableGrads(() => {
      const out = model.forward(x, { training: true });
      logits = out.dataSync() as Float32Array;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), out) as tf.Scalar;
    }, model.parameters());
    expect(relativeError(logits, toFloat32(tensors.get('train_logits')!))).toBeLessThan(1e-4);
    expect(loss.dataSync()[0]).toBeCloseTo(toFloat32(tensors.get('train_loss')!)[0], 5);

    const after = section('after_train.');
    const state = await exportStateDict(model, 'pytorch');
    for (const [name, entry] of after) {
      expect(relativeError(state.get(name)!.data as Float32Array, toFloat32(entry)), name).toBeLessThan(1e-5);
    }

    const expectedGrads = section('grad.');
    const nativeGrads = new Map(model.namedTensors().filter((t) => t.kind === 'parameter').map((t) => [t.name, grads[t.variable.name]]));
    expect([...nativeGrads.keys()].sort()).toEqual([...expectedGrads.keys()].sort());
    // Biases of BNs followed by another train-mode BN have a gradient of exactly zero in exact
    // arithmetic (the next BN removes constant shifts); both frameworks leave rounding noise
    // there, so each tensor's error is measured against at least 1e-3 of the largest gradient.
    const globalScale = Math.max(...[...expectedGrads.values()].map((e) => Math.max(...toFloat32(e).map(Math.abs))));
    for (const [name, grad] of nativeGrads) {
      // Compare in PyTorch layout: same permutation as the weights.
      const asPytorch = grad.rank === 4 ? tf.transpose(grad, [3, 2, 0, 1]) : grad.rank === 2 ? tf.transpose(grad) : grad;
      const expected = toFloat32(expectedGrads.get(name)!);
      expect(relativeError(asPytorch.dataSync(), expected, globalScale * 1e-3), name).toBeLessThan(1e-3);
    }
  });
});
