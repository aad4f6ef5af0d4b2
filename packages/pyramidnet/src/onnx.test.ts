import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { type InputSpec, relativeError, useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from './onnx';
import { toFloat32 } from './safetensors';
import { REFERENCE_FIXTURES, loadFixture } from './test-fixtures';

/**
 * The exported graphs run in onnxruntime (its CPU build from npm) and are compared with the
 * reference PyTorch model's eval-mode logits stored in the fixtures (tools/reference/make_fixtures.py):
 * basic, bottleneck and ImageNet-layout models, two of them at odd sizes, where the shortcut's
 * ceil-mode average pool has windows hanging over the edge.
 */
type Ort = typeof import('onnxruntime-node');
const ort: Ort = createRequire(import.meta.url)('onnxruntime-node');

const fixtureFiles = readdirSync(REFERENCE_FIXTURES).filter((f) => f.endsWith('.safetensors'));

function spec(channels: number, classes: number): InputSpec {
  return {
    shape: { height: 0, width: 0, channels },
    normalization: { mean: [125.3, 123.0, 113.9].slice(0, channels), std: [63.0, 62.1, 66.7].slice(0, channels), scale: 1 },
    classNames: Array.from({ length: classes }, (_, i) => `class ${i}`),
  };
}

async function run(bytes: Uint8Array, input: import('onnxruntime-node').Tensor): Promise<{ logits: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const { logits } = await session.run({ input });
  await session.release();
  return { logits: logits.data as Float32Array, dims: logits.dims };
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(fixtureFiles)('ONNX export, run in onnxruntime: %s', (file) => {
  it('gives the reference PyTorch logits from the normalised NCHW input', async () => {
    const { model, tensors } = loadFixture(file);
    const input = tensors.get('input.nchw')!;
    const expected = toFloat32(tensors.get('eval_logits')!);
    const { logits, dims } = await run(exportOnnx(model, spec(3, model.architecture.classes)), new ort.Tensor('float32', toFloat32(input), input.shape));
    expect(dims).toEqual([input.shape[0], model.architecture.classes]);
    expect(relativeError(logits, expected)).toBeLessThan(1e-4);
  });
});

describe('ONNX export', () => {
  it('takes raw NHWC pixels with the normalisation in the graph, for any batch size', async () => {
    const { model } = loadFixture('cifar-basic-8-a12-odd.safetensors');
    const { height, width, channels } = model.architecture.input;
    const input = spec(channels, model.architecture.classes);
    for (const batch of [1, 3]) {
      const pixels = Uint8Array.from({ length: batch * height * width * channels }, (_, i) => (i * 37 + 11) % 256);
      // The second derivation: the normalisation written out here, then the project's own model.
      const normalized = Float32Array.from(pixels, (p, i) => (p / input.normalization.scale - input.normalization.mean[i % channels]) / input.normalization.std[i % channels]);
      const expected = model.predict(tf.tensor4d(normalized, [batch, height, width, channels]));
      const { logits } = await run(exportOnnx(model, input, { inputLayout: 'nhwc-uint8' }), new ort.Tensor('uint8', pixels, [batch, height, width, channels]));
      expect(relativeError(logits, expected.dataSync())).toBeLessThan(1e-4);
    }
  });

  it('records the input layout, normalisation and class names in the metadata', async () => {
    const { model } = loadFixture('cifar-basic-8-a12-odd.safetensors');
    const input = spec(3, model.architecture.classes);
    const session = await ort.InferenceSession.create(exportOnnx(model, input));
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    await session.release();
    // The metadata as bytes in the file: key and JSON value side by side.
    const text = Buffer.from(exportOnnx(model, input)).toString('latin1');
    expect(text).toContain('input_layout');
    expect(text).toContain(JSON.stringify(input.normalization));
    expect(text).toContain(JSON.stringify(input.classNames));
  });

  it('refuses a normalisation for another number of channels, naming both', () => {
    const { model } = loadFixture('cifar-basic-8-a12-odd.safetensors');
    expect(() => exportOnnx(model, spec(1, 10))).toThrow('normalization has 1 means and 1 stds for a 3-channel model');
  });
});
