import { DATASETS, DATASET_NAMES, type DatasetName, type ImageShape, type InputSpec, type Normalization } from '@pyramid/core';
import type { StepBatch } from '@pyramid/train';

/**
 * Images as the page keeps them: every label, then every image (NHWC), one byte each
 * (scripts/sample-digits.mjs, scripts/sample-cifar10.mjs).
 */
export interface Sample {
  count: number;
  labels: Uint8Array;
  images: Uint8Array;
}

export function readSample(bytes: Uint8Array, shape: ImageShape): Sample {
  const pixels = shape.height * shape.width * shape.channels;
  const count = bytes.length / (1 + pixels);
  if (!Number.isInteger(count)) throw new Error(`the training sample has ${bytes.length} bytes: not a whole number of ${shape.height}x${shape.width}x${shape.channels} images with labels`);
  return { count, labels: bytes.subarray(0, count), images: bytes.subarray(count) };
}

/**
 * The batch of images `indices`, normalised as the trainer's data pipeline does it
 * (x * 1 / (scale std) - mean / std, in float32), so that the page trains on the same numbers.
 */
export function sampleBatch(sample: Sample, indices: ArrayLike<number>, shape: ImageShape, normalization: Normalization): StepBatch {
  const pixels = shape.height * shape.width * shape.channels;
  const { mean, std, scale } = normalization;
  const mul = Float32Array.from(mean, (_, c) => 1 / (scale * std[c]));
  const add = Float32Array.from(mean, (m, c) => -m / std[c]);
  const images = new Float32Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const j = indices[b];
    for (let p = 0; p < pixels; p++) images[b * pixels + p] = sample.images[j * pixels + p] * mul[p % mean.length] + add[p % mean.length];
    labels[b] = sample.labels[j];
  }
  return { images, labels, size: indices.length };
}

/**
 * The dataset a checkpoint's model was trained on, as far as its input says: the dataset-table
 * entry with the same image shape and the same class names in the same order. A model of an image
 * folder (classes named by its folders) or of a dataset whose class names are read from its own
 * files (CIFAR-100, ImageNet) has none.
 */
export function datasetOf(input: Pick<InputSpec, 'shape' | 'classNames'>): DatasetName | null {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name, i) => name === b[i]);
  return (
    DATASET_NAMES.find((name) => {
      const { shape, classNames } = DATASETS[name];
      return classNames !== null && same(classNames, input.classNames) && (['height', 'width', 'channels'] as const).every((k) => shape[k] === input.shape[k]);
    }) ?? null
  );
}

/** Image `index` of a sample as RGBA pixels for an ImageData (grey images repeated in R, G and B). */
export function sampleRgba(sample: Sample, index: number, shape: ImageShape): Uint8ClampedArray<ArrayBuffer> {
  const { height, width, channels } = shape;
  const image = sample.images.subarray(index * height * width * channels, (index + 1) * height * width * channels);
  const rgba = new Uint8ClampedArray(4 * height * width);
  for (let i = 0; i < height * width; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = image[i * channels + (channels === 1 ? 0 : c)];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}
