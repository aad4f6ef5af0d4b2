import type { RasterImage } from './decode';

// PIL's fixed point for 8-bit resampling: weights carry 22 fractional bits (32 - 8 - 2).
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;

/** Python's round(): halves go to the even neighbour, as torchvision's int(round(x)) does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Taps {
  /** First source sample of each output sample. */
  first: Int32Array;
  count: Int32Array;
  /** `size` fixed-point weights per output sample. */
  weights: Int32Array;
  size: number;
}

/**
 * The taps of PIL's bilinear filter from `inSize` to `outSize` samples, for the output samples
 * [from, from + length): the triangle widened by the scale when shrinking (antialiasing),
 * normalised per output sample, then rounded to fixed point. Each output sample's taps depend on
 * its own index only, so a part of an output is computed exactly as the whole would be.
 */
function computeTaps(inSize: number, outSize: number, from: number, length: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(length);
  const count = new Int32Array(length);
  const weights = new Int32Array(length * size);
  const w = new Float64Array(size);
  const inverse = 1 / filterScale;
  for (let k = 0; k < length; k++) {
    const center = (from + k + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let i = 0; i < hi - lo; i++) {
      const t = Math.abs((i + lo - center + 0.5) * inverse);
      w[i] = t < 1 ? 1 - t : 0;
      total += w[i];
    }
    for (let i = 0; i < hi - lo; i++) weights[k * size + i] = Math.trunc(0.5 + (total !== 0 ? w[i] / total : w[i]) * ONE);
    first[k] = lo;
    count[k] = hi - lo;
  }
  return { first, count, weights, size };
}

// Tap tables by sizes: evaluation resizes every photo of a size alike, and random-resized crops
// of the same window size recur. Bounded, as windows of every size occur over an epoch.
const tapCache = new Map<string, Taps>();
const TAP_CACHE_ENTRIES = 512;

function taps(inSize: number, outSize: number, from = 0, length = outSize): Taps {
  const key = `${inSize} ${outSize} ${from} ${length}`;
  let found = tapCache.get(key);
  if (!found) {
    if (tapCache.size >= TAP_CACHE_ENTRIES) tapCache.clear();
    found = computeTaps(inSize, outSize, from, length);
    tapCache.set(key, found);
  }
  return found;
}

// Scratch for the rows between the two passes, reused from image to image (each thread has its own
// module, and a resize runs to its end before another starts). Clamped stores are PIL's clip to 0-255.
let between = new Uint8ClampedArray(0);

/** A rectangle of an image or of a resize's output, in pixels. */
export interface ImageWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Part `part` of the resize of window `source` of `image` to `outHeight` x `outWidth`, as PIL's
 * `image.crop(source).resize((outWidth, outHeight), BILINEAR)` followed by `.crop(part)` gives it:
 * PIL's antialiased bilinear filter in its fixed point and pass order (rows first, rounded to 8
 * bits, then columns), computing only what the part needs. `source` lies inside the image and
 * `part` inside the output. With `mirror`, the result comes out flipped left to right.
 */
export function resampleWindow(image: RasterImage, source: ImageWindow, outHeight: number, outWidth: number, part: ImageWindow, mirror = false): RasterImage {
  const { width: W, channels: C } = image;
  const { height, width } = part;
  const vertical = source.height !== outHeight ? taps(source.height, outHeight, part.top, height) : null;
  const horizontal = source.width !== outWidth ? taps(source.width, outWidth, part.left, width) : null;
  // The window rows that the columns pass reads.
  const rowFirst = vertical ? vertical.first[0] : part.top;
  const rows = vertical ? vertical.first[height - 1] + vertical.count[height - 1] - rowFirst : height;
  const stride = width * C;
  const result = new Uint8Array(height * stride);
  const out = new Uint8ClampedArray(result.buffer);
  if (vertical && between.length < rows * stride) between = new Uint8ClampedArray(rows * stride);
  const target = vertical ? between : out;
  // Where the first row the columns pass reads starts in the image, and how far apart rows are.
  const start = ((source.top + rowFirst) * W + source.left) * C;
  if (horizontal && C === 3) resampleRowsRgb(image.data, start, W * 3, rows, horizontal, target, stride, mirror);
  else if (horizontal) resampleRows(image.data, start, W * C, rows, horizontal, C, target, stride, mirror);
  else copyRows(image.data, start + part.left * C, W * C, rows, C, target, stride, mirror);
  if (vertical) resampleColumns(target, rowFirst, vertical, out, height, stride);
  return { data: result, width, height, channels: C };
}

// The passes, each a function of its own: V8 compiles and optimises them separately, so that a
// path not taken yet (another channel count, no resize along an axis) does not undo the others.
// Sums in 32-bit integers as PIL's: 255 times weights that add up to about 2^22 stays below 2^31.
const HALF = 1 << (PRECISION_BITS - 1);

/** The rows pass for RGB, two rows at a time sharing the weights' loads (a last odd row is computed twice). */
function resampleRowsRgb(data: Uint8Array, start: number, rowStep: number, rows: number, taps: Taps, target: Uint8ClampedArray, stride: number, mirror: boolean): void {
  const { first, count, weights, size } = taps;
  const width = stride / 3;
  const step = mirror ? -3 : 3;
  for (let r = 0; r < rows; r += 2) {
    const next = r + 1 < rows ? rowStep : 0;
    const nextOut = r + 1 < rows ? stride : 0;
    const row = start + r * rowStep;
    let o = mirror ? r * stride + stride - 3 : r * stride;
    for (let x = 0, k = 0; x < width; x++, k += size, o += step) {
      const end = k + count[x];
      let s = row + first[x] * 3;
      let r0 = HALF;
      let g0 = HALF;
      let b0 = HALF;
      let r1 = HALF;
      let g1 = HALF;
      let b1 = HALF;
      for (let i = k; i < end; i++, s += 3) {
        const w = weights[i];
        r0 = (r0 + Math.imul(data[s], w)) | 0;
        g0 = (g0 + Math.imul(data[s + 1], w)) | 0;
        b0 = (b0 + Math.imul(data[s + 2], w)) | 0;
        r1 = (r1 + Math.imul(data[s + next], w)) | 0;
        g1 = (g1 + Math.imul(data[s + next + 1], w)) | 0;
        b1 = (b1 + Math.imul(data[s + next + 2], w)) | 0;
      }
      target[o] = r0 >> PRECISION_BITS;
      target[o + 1] = g0 >> PRECISION_BITS;
      target[o + 2] = b0 >> PRECISION_BITS;
      target[o + nextOut] = r1 >> PRECISION_BITS;
      target[o + nextOut + 1] = g1 >> PRECISION_BITS;
      target[o + nextOut + 2] = b1 >> PRECISION_BITS;
    }
  }
}

/** The rows pass for any number of channels. */
function resampleRows(data: Uint8Array, start: number, rowStep: number, rows: number, taps: Taps, C: number, target: Uint8ClampedArray, stride: number, mirror: boolean): void {
  const { first, count, weights, size } = taps;
  const width = stride / C;
  for (let r = 0; r < rows; r++) {
    const row = start + r * rowStep;
    for (let x = 0; x < width; x++) {
      const k = x * size;
      const n = count[x];
      const s = row + first[x] * C;
      const o = r * stride + (mirror ? width - 1 - x : x) * C;
      for (let c = 0; c < C; c++) {
        let sum = HALF;
        for (let i = 0, t = s + c; i < n; i++, t += C) sum = (sum + Math.imul(data[t], weights[k + i])) | 0;
        target[o + c] = sum >> PRECISION_BITS;
      }
    }
  }
}

/** No resize along the rows: the window's rows as they are (mirrored if asked). */
function copyRows(data: Uint8Array, start: number, rowStep: number, rows: number, C: number, target: Uint8ClampedArray, stride: number, mirror: boolean): void {
  for (let r = 0; r < rows; r++) {
    const row = start + r * rowStep;
    if (!mirror) target.set(data.subarray(row, row + stride), r * stride);
    else for (let s = row, o = r * stride + stride - C; o >= r * stride; o -= C) for (let c = 0; c < C; c++) target[o + c] = data[s++];
  }
}

/** The columns pass over the rows the first pass wrote, two columns at a time sharing the weights' loads. */
function resampleColumns(source: Uint8ClampedArray, rowFirst: number, taps: Taps, out: Uint8ClampedArray, height: number, stride: number): void {
  const { first, count, weights, size } = taps;
  for (let y = 0; y < height; y++) {
    const k = y * size;
    const n = count[y];
    const from = (first[y] - rowFirst) * stride;
    const o = y * stride;
    let j = 0;
    for (; j + 1 < stride; j += 2) {
      let even = HALF;
      let odd = HALF;
      for (let i = 0, t = from + j; i < n; i++, t += stride) {
        const w = weights[k + i];
        even = (even + Math.imul(source[t], w)) | 0;
        odd = (odd + Math.imul(source[t + 1], w)) | 0;
      }
      out[o + j] = even >> PRECISION_BITS;
      out[o + j + 1] = odd >> PRECISION_BITS;
    }
    if (j < stride) {
      let sum = HALF;
      for (let i = 0, t = from + j; i < n; i++, t += stride) sum = (sum + Math.imul(source[t], weights[k + i])) | 0;
      out[o + j] = sum >> PRECISION_BITS;
    }
  }
}

/**
 * torchvision's Resize on a PIL image: PIL's bilinear resampling with antialiasing (the filter
 * widens with the shrink factor), in PIL's order (rows first, rounded to 8 bits, then columns) and
 * fixed-point arithmetic, so the result equals PIL's `image.resize((width, height), BILINEAR)`.
 */
export function resizeBilinear(image: RasterImage, height: number, width: number): RasterImage {
  if (image.height === height && image.width === width) return image;
  const whole = { top: 0, left: 0, height: image.height, width: image.width };
  return resampleWindow(image, whole, height, width, { top: 0, left: 0, height, width });
}

/** The window [top, top + height) x [left, left + width); what lies outside the image is zero, as PIL's crop gives. */
export function crop(image: RasterImage, top: number, left: number, height: number, width: number): RasterImage {
  const { data, width: W, height: H, channels: C } = image;
  const out = new Uint8Array(height * width * C);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(width, W - left);
  if (x1 > x0) {
    for (let y = Math.max(0, -top); y < Math.min(height, H - top); y++) {
      out.set(data.subarray(((top + y) * W + left + x0) * C, ((top + y) * W + left + x1) * C), (y * width + x0) * C);
    }
  }
  return { data: out, width, height, channels: C };
}

/** The size torchvision's Resize(size) with one int gives: the shorter side `size`, the longer truncated. */
export function shorterSideSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** torchvision's Resize(size) with one int: the shorter side becomes `size`, the ratio kept. */
export function resizeShorterSide(image: RasterImage, size: number): RasterImage {
  const out = shorterSideSize(image.width, image.height, size);
  return resizeBilinear(image, out.height, out.width);
}

/** The top-left corner torchvision's CenterCrop takes: rounded half to even, zero padding around an image smaller than the crop. */
function centerOffset(size: number, crop: number): number {
  return crop > size ? -Math.floor((crop - size) / 2) : roundHalfEven((size - crop) / 2);
}

/** torchvision's CenterCrop((height, width)). */
export function centerCrop(image: RasterImage, height: number, width: number): RasterImage {
  if (image.height === height && image.width === width) return image;
  return crop(image, centerOffset(image.height, height), centerOffset(image.width, width), height, width);
}

/**
 * torchvision's Resize(resize) followed by CenterCrop((height, width)), resampling only the centre
 * that the crop keeps: the same bytes as the two steps.
 */
export function resizeCenterCrop(image: RasterImage, resize: number, height: number, width: number): RasterImage {
  const size = shorterSideSize(image.width, image.height, resize);
  const top = centerOffset(size.height, height);
  const left = centerOffset(size.width, width);
  if (top < 0 || left < 0) return centerCrop(resizeBilinear(image, size.height, size.width), height, width);
  if (size.height === image.height && size.width === image.width) return centerCrop(image, height, width);
  return resampleWindow(image, { top: 0, left: 0, height: image.height, width: image.width }, size.height, size.width, { top, left, height, width });
}
