import type { Preprocessing } from '@pyramid/core';
import type { RasterImage } from './decode';
import { centerCrop, crop, resizeBilinear, resizeShorterSide, roundHalfEven } from './resize';

/** The random draws a transform needs; core's Rng is one, a pre-drawn array is another. */
export interface RandomSource {
  /** Uniform in [0, 1). */
  uniform(): number;
}

/**
 * Replays pre-drawn uniforms: the main thread draws them from a per-image stream and a worker
 * thread applies the transform, so the result does not depend on which thread does the work.
 */
export class UniformTape implements RandomSource {
  private at = 0;
  constructor(private readonly values: Float64Array) {}
  uniform(): number {
    if (this.at >= this.values.length) throw new Error('transform used more random numbers than were drawn for it');
    return this.values[this.at++];
  }
}

/** Uniforms per image handed to a transform; generous for random-resized crop's 10 attempts. */
export const UNIFORMS_PER_IMAGE = 48;

function normal(random: RandomSource): number {
  const u1 = Math.max(random.uniform(), 1e-12);
  const u2 = random.uniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * torchvision's RandomResizedCrop(size, scale, ratio): a window covering `scale` of the area with
 * aspect ratio in `ratio` (log-uniform), up to 10 attempts, else the largest centred window of an
 * allowed ratio; cropped and resized to size x size as its resized_crop does on a PIL image.
 */
export function randomResizedCrop(image: RasterImage, size: number, random: RandomSource, scale: [number, number] = [0.08, 1], ratio: [number, number] = [3 / 4, 4 / 3]): RasterImage {
  const box = randomResizedCropBox(image.width, image.height, random, scale, ratio);
  return resizeBilinear(crop(image, box.top, box.left, box.height, box.width), size, size);
}

/**
 * The window randomResizedCrop takes, drawn as torchvision's RandomResizedCrop.get_params draws it,
 * with each of its random numbers taken from `random` in the same order: the area fraction and the
 * log aspect ratio as float32 uniforms (torch.empty(1).uniform_), the ratio bounds' logarithms and
 * the exponential in float32 as torch computes them, sides rounded half to even (Python's round),
 * the corner as torch.randint(0, n) = floor(u * n), and the fallback centred with floor division.
 */
export function randomResizedCropBox(width: number, height: number, random: RandomSource, scale: [number, number] = [0.08, 1], ratio: [number, number] = [3 / 4, 4 / 3]): { top: number; left: number; height: number; width: number } {
  const area = width * height;
  const logLow = Math.fround(Math.log(Math.fround(ratio[0])));
  const logHigh = Math.fround(Math.log(Math.fround(ratio[1])));
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * Math.fround(scale[0] + (scale[1] - scale[0]) * random.uniform());
    const aspect = Math.fround(Math.exp(Math.fround(logLow + (logHigh - logLow) * random.uniform())));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = Math.floor(random.uniform() * (height - h + 1));
      const left = Math.floor(random.uniform() * (width - w + 1));
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(width / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(height * Math.max(...ratio));
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

export function horizontalFlip(image: RasterImage): RasterImage {
  const { data, width, height, channels: C } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * C;
    for (let x = 0, s = row, d = row + (width - 1) * C; x < width; x++, s += C, d -= C) {
      for (let c = 0; c < C; c++) out[d + c] = data[s + c];
    }
  }
  return { ...image, data: out };
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function gray(data: Uint8Array, i: number): number {
  return 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
}

/**
 * Colour jitter as the ResNet ImageNet recipe (fb.resnet.torch) applies it: brightness, contrast
 * and saturation, each a blend with black, the mean grey or the pixel's grey by a factor in
 * [1 - s, 1 + s], in a random order. RGB images only.
 */
export function colorJitter(image: RasterImage, strength: number, random: RandomSource): RasterImage {
  if (image.channels !== 3) return image;
  const order = [0, 1, 2];
  for (let i = 2; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  let data = image.data;
  const table = new Uint8Array(256);
  for (const op of order) {
    const alpha = 1 + strength * (2 * random.uniform() - 1);
    const out = new Uint8Array(data.length);
    if (op === 2) {
      for (let i = 0; i < data.length; i += 3) {
        const g = gray(data, i) * (1 - alpha);
        out[i] = clamp(data[i] * alpha + g);
        out[i + 1] = clamp(data[i + 1] * alpha + g);
        out[i + 2] = clamp(data[i + 2] * alpha + g);
      }
    } else {
      // Brightness and contrast map each value alike: through a table of the 256 results.
      let offset = 0;
      if (op === 1) {
        let mean = 0;
        for (let i = 0; i < data.length; i += 3) mean += gray(data, i);
        offset = (mean / (data.length / 3)) * (1 - alpha);
      }
      for (let v = 0; v < 256; v++) table[v] = clamp(v * alpha + offset);
      for (let i = 0; i < data.length; i++) out[i] = table[data[i]];
    }
    data = out;
  }
  return { ...image, data };
}

// PCA of ImageNet's RGB pixels (on 0-1 values), as used by AlexNet's lighting noise.
const EIGENVALUES = [0.2175, 0.0188, 0.0045];
const EIGENVECTORS = [
  [-0.5675, 0.7192, 0.4009],
  [-0.5808, -0.0045, -0.814],
  [-0.5836, -0.6948, 0.4203],
];

/** AlexNet's PCA lighting noise: rgb += V (alpha * lambda), alpha ~ N(0, std), on 0-1 pixels. */
export function pcaLighting(image: RasterImage, std: number, random: RandomSource): RasterImage {
  if (image.channels !== 3 || std === 0) return image;
  const alpha = [normal(random) * std, normal(random) * std, normal(random) * std];
  const shift = EIGENVECTORS.map((row) => 255 * row.reduce((s, v, k) => s + v * alpha[k] * EIGENVALUES[k], 0));
  const tables = shift.map((d) => Uint8Array.from({ length: 256 }, (_, v) => clamp(v + d)));
  const out = new Uint8Array(image.data.length);
  const [r, g, b] = tables;
  for (let i = 0; i < out.length; i += 3) {
    out[i] = r[image.data[i]];
    out[i + 1] = g[image.data[i + 1]];
    out[i + 2] = b[image.data[i + 2]];
  }
  return { ...image, data: out };
}

/** What a worker thread applies to each decoded image; plain data, so that it crosses threads. */
export type TransformSpec =
  /** Resize straight to the size (datasets of small images). */
  | { kind: 'resize'; height: number; width: number }
  /** ImageNet training: random-resized crop, flip, colour jitter, PCA lighting. */
  | { kind: 'imagenet-train'; size: number; jitter: number; lighting: number }
  /** Evaluation: resize the shorter side to `resize`, centre crop (torchvision's Resize and CenterCrop). */
  | { kind: 'center-crop'; height: number; width: number; resize: number };

export function applyTransform(image: RasterImage, spec: TransformSpec, random: RandomSource): RasterImage {
  switch (spec.kind) {
    case 'resize':
      return resizeBilinear(image, spec.height, spec.width);
    case 'imagenet-train': {
      let out = randomResizedCrop(image, spec.size, random);
      if (random.uniform() < 0.5) out = horizontalFlip(out);
      if (spec.jitter > 0) out = colorJitter(out, spec.jitter, random);
      return pcaLighting(out, spec.lighting, random);
    }
    case 'center-crop':
      if (image.height === spec.height && image.width === spec.width) return image;
      return centerCrop(resizeShorterSide(image, spec.resize), spec.height, spec.width);
  }
}

/** The paper's ImageNet augmentation (Sec. 4.2, after the ResNet recipe). */
export function imagenetTrainSpec(size = 224): TransformSpec {
  return { kind: 'imagenet-train', size, jitter: 0.4, lighting: 0.1 };
}

/** Resize 256, centre crop 224 (scaled alike for other sizes). */
export function imagenetEvalSpec(size = 224): TransformSpec {
  return { kind: 'center-crop', height: size, width: size, resize: Math.round((size * 256) / 224) };
}

/** The transform that brings an image to `shape` as `preprocessing` says. */
export function preprocessingSpec(preprocessing: Preprocessing, shape: { height: number; width: number }): TransformSpec {
  if (preprocessing.kind === 'stretch') return { kind: 'resize', height: shape.height, width: shape.width };
  return { kind: 'center-crop', height: shape.height, width: shape.width, resize: preprocessing.resize };
}

/** One image brought to `shape` as `preprocessing` says: what evaluation, prediction and serving apply. */
export function preprocessImage(image: RasterImage, preprocessing: Preprocessing, shape: { height: number; width: number }): RasterImage {
  return applyTransform(image, preprocessingSpec(preprocessing, shape), new UniformTape(new Float64Array(0)));
}
