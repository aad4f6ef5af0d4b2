import type { Normalization, Rng } from '@pyramid/core';
import type { ImageTransform } from './augment';
import type { ImageDataset } from './dataset';

export interface Batch {
  /** Normalised pixels, NHWC float32. */
  images: Float32Array;
  labels: Int32Array;
  size: number;
  /** Dataset indices of this batch's images, in order. */
  indices: Int32Array;
  /** Set by mixup and CutMix: each image also holds `labels[i]`'s image, with weight 1 - lambda. */
  mix?: { labels: Int32Array; lambda: number };
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffles the order with this stream; in dataset order without it. */
  rng?: Rng;
  /** Leaves out a last, smaller batch (training); default false. */
  dropLast?: boolean;
  normalization?: Normalization;
  /** Applied to each image's raw pixels before normalisation (augmentation). */
  transform?: ImageTransform;
  /**
   * The random stream of batch `index` for `transform`; one stream per batch makes batch k's
   * augmentation independent of whether batches before it ran (exact resume mid-epoch).
   */
  transformRng?: (index: number) => Rng;
  /** Skip the first `skip` batches without preparing them (resume mid-epoch). */
  skip?: number;
}

/** x' = (x / scale - mean) / std per channel, into `out`. */
export function normalizeInto(out: Float32Array, pixels: Uint8Array, normalization: Normalization, offset = 0): void {
  const { mean, std, scale } = normalization;
  const channels = mean.length;
  const mul = new Float32Array(channels);
  const add = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    mul[c] = 1 / (scale * std[c]);
    add[c] = -mean[c] / std[c];
  }
  // The 256 results per channel, computed as per pixel and looked up.
  const table = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = v * mul[c] + add[c];
  if (channels === 3) {
    for (let i = 0; i < pixels.length; i += 3) {
      out[offset + i] = table[pixels[i]];
      out[offset + i + 1] = table[256 + pixels[i + 1]];
      out[offset + i + 2] = table[512 + pixels[i + 2]];
    }
    return;
  }
  for (let i = 0, c = 0; i < pixels.length; i++, c = c + 1 === channels ? 0 : c + 1) out[offset + i] = table[c * 256 + pixels[i]];
}

/** One epoch of batches; with `rng`, a fresh seeded permutation per call. */
export function* batches(dataset: ImageDataset, options: BatchOptions): Generator<Batch> {
  const n = dataset.labels.length;
  const order = options.rng ? options.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const { height, width, channels } = dataset.shape;
  const pixels = height * width * channels;
  const normalization = options.normalization ?? dataset.normalization;
  const { batchSize, transform } = options;
  const raw = new Uint8Array(pixels);
  for (let start = (options.skip ?? 0) * batchSize, index = options.skip ?? 0; start < n; start += batchSize, index++) {
    const size = Math.min(batchSize, n - start);
    if (size < batchSize && options.dropLast) return;
    const images = new Float32Array(size * pixels);
    const labels = new Int32Array(size);
    const indices = order.slice(start, start + size);
    const rng = transform ? options.transformRng?.(index) : undefined;
    for (let b = 0; b < size; b++) {
      const j = indices[b];
      let source = dataset.images.subarray(j * pixels, (j + 1) * pixels);
      if (transform && rng) {
        raw.set(source);
        transform(raw, dataset.shape, rng);
        source = raw;
      }
      normalizeInto(images, source, normalization, b * pixels);
      labels[b] = dataset.labels[j];
    }
    yield { images, labels, size, indices };
  }
}
