import type { ImageShape, Normalization } from '@pyramid/core';
import type { StepBatch } from '@pyramid/train';

/** The page's built-in training sample: every label, then every image, one byte each (scripts/sample-digits.mjs). */
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
