import { DataError, type ImageShape, type Normalization, type Rng } from '@pyramid/core';

/**
 * A labelled image dataset held in memory as uint8 pixels, NHWC. MNIST-sized and CIFAR-sized
 * datasets fit comfortably (CIFAR-10 train: 150 MB).
 */
export interface ImageDataset {
  name: string;
  shape: ImageShape;
  classNames: string[];
  /** N * height * width * channels bytes. */
  images: Uint8Array;
  labels: Int32Array;
  /** How this dataset's pixels are normalised for a model (the customary constants where they exist). */
  normalization: Normalization;
  /** Per-channel mean and standard deviation measured on these images (0-255). */
  statistics?: Normalization;
}

export function datasetSize(dataset: ImageDataset): number {
  return dataset.labels.length;
}

/** Checks that pixels and labels agree in count and that every label names a class. */
export function validateDataset(dataset: ImageDataset): ImageDataset {
  const { shape, images, labels, classNames, name } = dataset;
  const pixels = shape.height * shape.width * shape.channels;
  if (images.length !== labels.length * pixels) {
    throw new DataError(`${name}: ${images.length} pixel bytes for ${labels.length} images of ${shape.height}x${shape.width}x${shape.channels}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < classNames.length)) {
      throw new DataError(`${name}: label ${labels[i]} of image ${i} is out of range for ${classNames.length} classes`);
    }
  }
  return dataset;
}

/** Per-channel mean and standard deviation on 0-255 pixels (population statistics). */
export function channelStatistics(images: Uint8Array, channels: number): Normalization {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    sum[i % channels] += v;
    sumSq[i % channels] += v * v;
  }
  const n = images.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(s / n - mean[c] ** 2, 0)));
  return { mean, std, scale: 1 };
}

/** The images at `indices`, as a new dataset sharing the class list. */
export function subset(dataset: ImageDataset, indices: ArrayLike<number>, name = dataset.name): ImageDataset {
  const { height, width, channels } = dataset.shape;
  const pixels = height * width * channels;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(dataset.images.subarray(j * pixels, (j + 1) * pixels), i * pixels);
    labels[i] = dataset.labels[j];
  }
  return { ...dataset, name, images, labels };
}

/**
 * Splits into train and test parts with the same class balance (a stratified split): for each
 * class, the last `testFraction` of its images, in a seeded random order, go to test.
 */
export function stratifiedSplit(dataset: ImageDataset, testFraction: number, rng: Rng): { train: ImageDataset; test: ImageDataset } {
  if (!(testFraction > 0 && testFraction < 1)) throw new DataError(`test fraction must be in (0, 1), got ${testFraction}`);
  const byClass: number[][] = dataset.classNames.map(() => []);
  dataset.labels.forEach((label, i) => byClass[label].push(i));
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass) {
    const order = rng.permutation(members.length);
    const testCount = Math.round(members.length * testFraction);
    order.forEach((k, position) => (position < members.length - testCount ? train : test).push(members[k]));
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train: subset(dataset, train, `${dataset.name}/train`), test: subset(dataset, test, `${dataset.name}/test`) };
}
