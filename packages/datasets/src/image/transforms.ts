import type { Preprocessing } from '@pyramid/core';
import type { RasterImage } from './decode';
import { type ImageWindow, crop, resampleWindow, resizeBilinear, resizeCenterCrop, roundHalfEven } from './resize';

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

const BRIGHTNESS = 0;
const CONTRAST = 1;
const SATURATION = 2;

/** Colour jitter's random draws: the order of its three blends, then each one's factor in that order. */
function drawJitter(strength: number, random: RandomSource): { order: number[]; alphas: number[] } {
  const order = [BRIGHTNESS, CONTRAST, SATURATION];
  for (let i = 2; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { order, alphas: order.map(() => 1 + strength * (2 * random.uniform() - 1)) };
}

/**
 * The mean grey of an image from its channel sums (integers, so exact in any order of summation):
 * contrast blends towards it.
 */
function meanGrey(red: number, green: number, blue: number, pixels: number): number {
  return (0.299 * red + 0.587 * green + 0.114 * blue) / pixels;
}

/**
 * Brightness (offset 0) and contrast map each value alike: a table of the 256 results. Blended
 * values become bytes as a Uint8ClampedArray stores them (clamped to 0-255, rounded half to even),
 * here and in the saturation blend, which so needs no branch per value.
 */
function blendTable(alpha: number, offset: number, table = new Uint8Array(256)): Uint8Array {
  const clamped = new Uint8ClampedArray(table.buffer, table.byteOffset, 256);
  for (let v = 0; v < 256; v++) clamped[v] = v * alpha + offset;
  return table;
}

/**
 * Colour jitter as the ResNet ImageNet recipe (fb.resnet.torch) applies it: brightness, contrast
 * and saturation, each a blend with black, the mean grey or the pixel's grey by a factor in
 * [1 - s, 1 + s], in a random order. RGB images only.
 */
export function colorJitter(image: RasterImage, strength: number, random: RandomSource): RasterImage {
  if (image.channels !== 3) return image;
  const { order, alphas } = drawJitter(strength, random);
  let data = image.data;
  for (const [k, op] of order.entries()) {
    const alpha = alphas[k];
    const out = new Uint8Array(data.length);
    if (op === SATURATION) {
      const clamped = new Uint8ClampedArray(out.buffer);
      for (let i = 0; i < data.length; i += 3) {
        const g = (0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]) * (1 - alpha);
        clamped[i] = data[i] * alpha + g;
        clamped[i + 1] = data[i + 1] * alpha + g;
        clamped[i + 2] = data[i + 2] * alpha + g;
      }
    } else {
      let offset = 0;
      if (op === CONTRAST) {
        let red = 0;
        let green = 0;
        let blue = 0;
        for (let i = 0; i < data.length; i += 3) {
          red += data[i];
          green += data[i + 1];
          blue += data[i + 2];
        }
        offset = meanGrey(red, green, blue, data.length / 3) * (1 - alpha);
      }
      const table = blendTable(alpha, offset);
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

/** PCA lighting's random draws, as the shift of each channel in 0-255 levels. */
function drawLighting(std: number, random: RandomSource): number[] {
  const alpha = [normal(random) * std, normal(random) * std, normal(random) * std];
  return EIGENVECTORS.map((row) => 255 * row.reduce((s, v, k) => s + v * alpha[k] * EIGENVALUES[k], 0));
}

/** AlexNet's PCA lighting noise: rgb += V (alpha * lambda), alpha ~ N(0, std), on 0-1 pixels. */
export function pcaLighting(image: RasterImage, std: number, random: RandomSource): RasterImage {
  if (image.channels !== 3 || std === 0) return image;
  const tables = drawLighting(std, random).map((d) => blendTable(1, d));
  const out = new Uint8Array(image.data.length);
  const [r, g, b] = tables;
  for (let i = 0; i < out.length; i += 3) {
    out[i] = r[image.data[i]];
    out[i + 1] = g[image.data[i + 1]];
    out[i + 2] = b[image.data[i + 2]];
  }
  return { ...image, data: out };
}

// Per-channel value maps (3 x 256) and the histogram of the fused colour passes, reused from image to image.
const before = new Uint8Array(3 * 256);
const after = new Uint8Array(3 * 256);
const step = new Uint8Array(256);
const histogram = new Int32Array(3 * 256);
const blended = new Uint8ClampedArray(3);

function resetTables(tables: Uint8Array): void {
  for (let v = 0; v < 3 * 256; v++) tables[v] = v & 255;
}

/** Replaces each channel's map t by map[t]: two value maps applied one after the other. */
function composeTables(tables: Uint8Array, map: Uint8Array, channel: number): void {
  for (let v = channel * 256; v < channel * 256 + 256; v++) tables[v] = map[tables[v]];
}

function countValues(data: Uint8Array): void {
  histogram.fill(0);
  for (let i = 0; i < data.length; i += 3) {
    histogram[data[i]]++;
    histogram[256 + data[i + 1]]++;
    histogram[512 + data[i + 2]]++;
  }
}

/** The mean grey of the counted image once `tables` map it. */
function meanGreyThrough(tables: Uint8Array, pixels: number): number {
  const sums = [0, 0, 0];
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) sums[c] += histogram[c * 256 + v] * tables[c * 256 + v];
  return meanGrey(sums[0], sums[1], sums[2], pixels);
}

/**
 * Saturation in place: each pixel through the maps `into`, blended with its grey by `alpha`, then
 * through the maps `out`; with `count`, the blended values are counted into the histogram.
 */
function saturate(data: Uint8Array, alpha: number, into: Uint8Array, out: Uint8Array, count: boolean): void {
  if (count) histogram.fill(0);
  const beta = 1 - alpha;
  for (let i = 0; i < data.length; i += 3) {
    const r = into[data[i]];
    const g = into[256 + data[i + 1]];
    const b = into[512 + data[i + 2]];
    const grey = (0.299 * r + 0.587 * g + 0.114 * b) * beta;
    blended[0] = r * alpha + grey;
    blended[1] = g * alpha + grey;
    blended[2] = b * alpha + grey;
    const r2 = blended[0];
    const g2 = blended[1];
    const b2 = blended[2];
    data[i] = out[r2];
    data[i + 1] = out[256 + g2];
    data[i + 2] = out[512 + b2];
    if (count) {
      histogram[r2]++;
      histogram[256 + g2]++;
      histogram[512 + b2]++;
    }
  }
}

/**
 * ImageNet training augmentation in as few passes as the draws allow, with the same random draws
 * and the same bytes as randomResizedCrop, horizontalFlip, colorJitter and pcaLighting one after
 * the other: the flip is the resize's write order; brightness, contrast and lighting are value
 * maps, composed into one map per channel (contrast's mean grey from a histogram); saturation,
 * which mixes channels, is the one pass over the pixels, with the maps before and after it
 * applied in the same pass (a second pass only when contrast follows it and needs its mean).
 * `box` is the window randomResizedCropBox drew, the random numbers after it come from `random`.
 */
export function imagenetTrainCropped(image: RasterImage, box: ImageWindow, spec: { size: number; jitter: number; lighting: number }, random: RandomSource): RasterImage {
  const mirror = random.uniform() < 0.5;
  const out = resampleWindow(image, box, spec.size, spec.size, { top: 0, left: 0, height: spec.size, width: spec.size }, mirror);
  if (out.channels !== 3) return out;
  const { order, alphas } = spec.jitter > 0 ? drawJitter(spec.jitter, random) : { order: [], alphas: [] };
  const shifts = spec.lighting !== 0 ? drawLighting(spec.lighting, random) : [];
  const data = out.data;
  const pixels = data.length / 3;
  const saturation = order.indexOf(SATURATION);
  const contrastAfterSaturation = saturation >= 0 && order.indexOf(CONTRAST) > saturation;
  // The value maps from the start, or from saturation when contrast needs the saturated image counted.
  resetTables(before);
  let counted = false;
  const valueMap = (tables: Uint8Array, op: number, alpha: number) => {
    let offset = 0;
    if (op === CONTRAST) {
      if (!counted) countValues(data);
      counted = true;
      offset = meanGreyThrough(tables, pixels) * (1 - alpha);
    }
    blendTable(alpha, offset, step);
    for (let c = 0; c < 3; c++) composeTables(tables, step, c);
  };
  for (let k = 0; k < order.length; k++) {
    if (order[k] !== SATURATION) {
      valueMap(before, order[k], alphas[k]);
      continue;
    }
    if (contrastAfterSaturation) {
      resetTables(after);
      saturate(data, alphas[k], before, after, true);
      resetTables(before);
      counted = true;
      continue;
    }
    // Only brightness and lighting follow: their maps go into the same pass.
    resetTables(after);
    for (let j = k + 1; j < order.length; j++) valueMap(after, order[j], alphas[j]);
    for (const [c, shift] of shifts.entries()) composeTables(after, blendTable(1, shift, step), c);
    saturate(data, alphas[k], before, after, false);
    return out;
  }
  for (const [c, shift] of shifts.entries()) composeTables(before, blendTable(1, shift, step), c);
  let identity = true;
  for (let v = 0; v < 3 * 256 && identity; v++) identity = before[v] === (v & 255);
  if (!identity) {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = before[data[i]];
      data[i + 1] = before[256 + data[i + 1]];
      data[i + 2] = before[512 + data[i + 2]];
    }
  }
  return out;
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
    case 'imagenet-train':
      return imagenetTrainCropped(image, randomResizedCropBox(image.width, image.height, random), spec, random);
    case 'center-crop':
      if (image.height === spec.height && image.width === spec.width) return image;
      return resizeCenterCrop(image, spec.resize, spec.height, spec.width);
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
