import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { PyramidNet } from './model';
import { type SafetensorsEntry, readSafetensors, toFloat32, writeSafetensors } from './safetensors';
import { importStateDict } from './weights';

/**
 * Test helpers over the reference fixture that tools/reference/make_fixtures.py wrote from the
 * PyTorch model: a PyramidNet-8 (alpha 12) on odd 17x17 inputs, its state_dict under 'weights.'.
 */
export const tiny = { layout: 'cifar' as const, depth: 8, alpha: 12, classes: 10, input: { height: 17, width: 17, channels: 3 } };
const fixture = fileURLToPath(new URL('../test/fixtures/cifar-basic-8-a12-odd.safetensors', import.meta.url));

/** The reference state_dict stored in the fixture, as its own file. */
export function referenceStateDict(): Uint8Array {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(fixture)));
  const entries = [...tensors].filter(([k]) => k.startsWith('weights.')).map(([k, v]) => [k.slice(8), { dtype: v.dtype, shape: v.shape, data: v.bytes }] as const);
  return writeSafetensors(new Map(entries));
}

/** Every named tensor's values, to compare models. */
export function snapshot(model: PyramidNet): Map<string, number[]> {
  return new Map(model.namedTensors().map((t) => [t.name, Array.from(t.variable.dataSync())]));
}

/** The fixture's input batch (NHWC) and the reference model's eval-mode logits for it. */
export function referenceBatch(): { input: tf.Tensor4D; evalLogits: Float32Array } {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(fixture)));
  const x = tensors.get('input.nchw')!;
  const [n, c, h, w] = x.shape;
  const input = tf.tidy(() => tf.transpose(tf.tensor4d(toFloat32(x), [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
  return { input, evalLogits: toFloat32(tensors.get('eval_logits')!) };
}

/** Files torch.save wrote, made by tools/reference/make_torch_files.py from the fixture's weights. */
export function torchFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL(`../test/fixtures/torch/${name}`, import.meta.url))));
}

/**
 * Fixtures written by tools/reference/make_fixtures.py from the reference PyTorch implementation
 * (dyhan0920/PyramidNet-PyTorch, PyramidNet.py, PyTorch 1.13 on CPU): weights with random BN
 * statistics, an input, eval- and train-mode logits, running statistics after the train-mode
 * forward, and the gradients of the mean cross-entropy.
 */
export const REFERENCE_FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

export function nchwToNhwc(entry: SafetensorsEntry): tf.Tensor4D {
  const [n, c, h, w] = entry.shape;
  return tf.transpose(tf.tensor4d(toFloat32(entry), [n, c, h, w]), [0, 2, 3, 1]);
}

/** A fixture's model with the reference weights loaded, and its tensors. */
export function loadFixture(file: string) {
  const bytes = new Uint8Array(readFileSync(REFERENCE_FIXTURES + file));
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
