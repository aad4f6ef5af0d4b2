import { ConfigError, type ImageShape, type Rng } from '@pyramid/core';
import type { Batch } from './batches';

/**
 * Regularisers that act on a whole normalised batch, beyond the paper but standard with PyramidNet
 * since (Cutout, mixup, CutMix: the CutMix paper's CIFAR-100 record is a PyramidNet-200).
 * A mixing transform returns the batch with `mix` set: the loss is then
 * lambda * CE(labels) + (1 - lambda) * CE(mix.labels).
 */
export type BatchTransform = (batch: Batch, shape: ImageShape, rng: Rng) => Batch;

/**
 * Cutout (DeVries & Taylor 2017): per image, a size x size square centred on a uniformly drawn
 * pixel, clipped at the borders, set to 0 after normalisation (as their reference code masks the
 * normalised tensor, so the hole is the dataset mean).
 */
export function cutout(size: number): BatchTransform {
  if (!(Number.isInteger(size) && size > 0)) throw new ConfigError(`cutout size must be a positive integer, got ${size}`);
  return (batch, { height, width, channels }, rng) => {
    const pixels = height * width * channels;
    const half = Math.floor(size / 2);
    for (let b = 0; b < batch.size; b++) {
      const cy = rng.int(height);
      const cx = rng.int(width);
      const y0 = Math.max(0, cy - half);
      const y1 = Math.min(height, cy + half);
      const x0 = Math.max(0, cx - half);
      const x1 = Math.min(width, cx + half);
      for (let y = y0; y < y1; y++) {
        const row = b * pixels + (y * width) * channels;
        batch.images.fill(0, row + x0 * channels, row + x1 * channels);
      }
    }
    return batch;
  };
}

/**
 * mixup (Zhang et al. 2018): lambda ~ Beta(alpha, alpha) once per batch, each image blended with
 * the image a random permutation puts beside it: x = lambda x + (1 - lambda) x[perm].
 */
export function mixup(alpha: number): BatchTransform {
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new ConfigError(`mixup alpha must be positive, got ${alpha}`);
  return (batch, { height, width, channels }, rng) => {
    unmixed(batch);
    const lambda = rng.beta(alpha, alpha);
    const perm = rng.permutation(batch.size);
    const pixels = height * width * channels;
    const source = batch.images;
    const images = new Float32Array(source.length);
    for (let b = 0; b < batch.size; b++) {
      const own = b * pixels;
      const other = perm[b] * pixels;
      for (let i = 0; i < pixels; i++) images[own + i] = lambda * source[own + i] + (1 - lambda) * source[other + i];
    }
    return { ...batch, images, mix: { labels: permuted(batch.labels, perm), lambda } };
  };
}

/**
 * CutMix (Yun et al. 2019), as its reference code does it: with probability `prob` per batch,
 * lambda ~ Beta(beta, beta), a box of sides H sqrt(1 - lambda) by W sqrt(1 - lambda) (floored)
 * around a uniformly drawn centre, clipped at the borders, pasted from the permuted batch into
 * every image; lambda then becomes the share of pixels each image keeps.
 */
export function cutMix(prob: number, beta = 1): BatchTransform {
  if (!(prob >= 0 && prob <= 1)) throw new ConfigError(`cutmix probability must be in [0, 1], got ${prob}`);
  if (!(beta > 0 && Number.isFinite(beta))) throw new ConfigError(`cutmix beta must be positive, got ${beta}`);
  return (batch, { height, width, channels }, rng) => {
    unmixed(batch);
    if (!(rng.uniform() < prob)) return batch;
    const drawn = rng.beta(beta, beta);
    const perm = rng.permutation(batch.size);
    const ratio = Math.sqrt(1 - drawn);
    const cutH = Math.floor(height * ratio);
    const cutW = Math.floor(width * ratio);
    const cy = rng.int(height);
    const cx = rng.int(width);
    const y0 = clamp(cy - Math.floor(cutH / 2), height);
    const y1 = clamp(cy + Math.floor(cutH / 2), height);
    const x0 = clamp(cx - Math.floor(cutW / 2), width);
    const x1 = clamp(cx + Math.floor(cutW / 2), width);
    const pixels = height * width * channels;
    const source = batch.images;
    const images = source.slice();
    for (let b = 0; b < batch.size; b++) {
      for (let y = y0; y < y1; y++) {
        const row = (y * width) * channels;
        const from = perm[b] * pixels + row;
        images.set(source.subarray(from + x0 * channels, from + x1 * channels), b * pixels + row + x0 * channels);
      }
    }
    const lambda = 1 - ((y1 - y0) * (x1 - x0)) / (height * width);
    return { ...batch, images, mix: { labels: permuted(batch.labels, perm), lambda } };
  };
}

/** Applies transforms in order. */
export function composeBatch(...transforms: BatchTransform[]): BatchTransform {
  return (batch, shape, rng) => transforms.reduce((b, t) => t(b, shape, rng), batch);
}

function unmixed(batch: Batch): void {
  if (batch.mix) throw new ConfigError('a batch can be mixed once: use mixup or CutMix, not both');
}

function clamp(value: number, size: number): number {
  return Math.min(size, Math.max(0, value));
}

function permuted(labels: Int32Array, perm: Int32Array): Int32Array {
  return Int32Array.from(perm, (j) => labels[j]);
}
