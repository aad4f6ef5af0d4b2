import type { ImageShape, Rng } from '@pyramid/core';

/** Rewrites one uint8 HWC image in place, drawing its randomness from `rng`. */
export type ImageTransform = (pixels: Uint8Array, shape: ImageShape, rng: Rng) => void;

/**
 * torchvision's RandomCrop(size, padding): zero-pad every side by `pad` pixels, then crop a
 * window of the original size at a uniformly random offset in [0, 2 * pad] on each axis.
 */
export function randomCrop(pad: number): ImageTransform {
  let scratch = new Uint8Array(0);
  return (pixels, { height, width, channels }, rng) => {
    const dy = rng.int(2 * pad + 1) - pad;
    const dx = rng.int(2 * pad + 1) - pad;
    if (dy === 0 && dx === 0) return;
    if (scratch.length !== pixels.length) scratch = new Uint8Array(pixels.length);
    scratch.set(pixels);
    pixels.fill(0);
    const row = width * channels;
    for (let y = 0; y < height; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= height) continue;
      const x0 = Math.max(0, -dx);
      const x1 = Math.min(width, width - dx);
      if (x1 <= x0) continue;
      pixels.set(scratch.subarray(sy * row + (x0 + dx) * channels, sy * row + (x1 + dx) * channels), y * row + x0 * channels);
    }
  };
}

/** torchvision's RandomHorizontalFlip(p): mirror left-right with probability p. */
export function randomHorizontalFlip(p = 0.5): ImageTransform {
  return (pixels, { height, width, channels }, rng) => {
    if (!rng.bernoulli(p)) return;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width >> 1; x++) {
        const a = (y * width + x) * channels;
        const b = (y * width + (width - 1 - x)) * channels;
        for (let c = 0; c < channels; c++) {
          const t = pixels[a + c];
          pixels[a + c] = pixels[b + c];
          pixels[b + c] = t;
        }
      }
    }
  };
}

export function compose(...transforms: ImageTransform[]): ImageTransform {
  return (pixels, shape, rng) => {
    for (const t of transforms) t(pixels, shape, rng);
  };
}

/** The paper's CIFAR augmentation (Sec. 4.1): 4-pixel zero padding with a random 32x32 crop, and flips. */
export function cifarAugmentation(): ImageTransform {
  return compose(randomCrop(4), randomHorizontalFlip(0.5));
}
