import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { relativeError, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PyramidNet } from './model';
import { type SafetensorsEntry, readSafetensors, toFloat32, toIntegers } from './safetensors';
import { exportStateDict, importStateDict } from './weights';

/**
 * Fixtures written by tools/reference/make_fixtures.py from the reference PyTorch implementation
 * (dyhan0920/PyramidNet-PyTorch, PyramidNet.py, PyTorch 1.13 on CPU): weights with random BN
 * statistics, an input, eval- and train-mode logits, running statistics after the train-mode
 * forward, and the gradients of the mean cross-entropy.
 */
const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

function nchwToNhwc(entry: SafetensorsEntry): tf.Tensor4D {
  const [n, c, h, w] = entry.shape;
  return tf.transpose(tf.tensor4d(toFloat32(entry), [n, c, h, w]), [0, 2, 3, 1]);
}

function loadFixture(file: string) {
  const bytes = new Uint8Array(readFileSync(FIXTURES + file));
  const { tensors, metadata } = readSafetensors(bytes, file);
  const section = (prefix: string) =>
    new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const size = Number(metadata.size);
  const model = new PyramidNet({
    layout: metadata.dataset === 'imagenet' ? 'imagenet' : 'cifar',
    depth: Number(metadata.depth),
    alpha: Number(metadata.alpha),
    unit: metadata.bottleneck === 'true' ? 'bottleneck' : 'basic',
    classes: Number(metadata.classes),
    input: { height: size, width: size, channels: 3 },
  });
  importStateDict(model, { tensors: section('weights.'), metadata: {} }, 'pytorch', file);
  return { model, tensors, section, weights: section('weights.') };
}

const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.safetensors'));

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
