import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { PyramidNet } from './model';
import { readSafetensors, toFloat32, writeSafetensors } from './safetensors';

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
