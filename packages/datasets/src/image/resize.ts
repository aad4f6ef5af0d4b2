import type { RasterImage } from './decode';

// PIL's fixed point for 8-bit resampling: weights carry 22 fractional bits (32 - 8 - 2).
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;

/** Python's round(): halves go to the even neighbour, as torchvision's int(round(x)) does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The taps of PIL's bilinear filter from `inSize` to `outSize` samples: the triangle widened by the
 * scale when shrinking (antialiasing), normalised per output sample, then rounded to fixed point.
 */
function taps(inSize: number, outSize: number): { first: Int32Array; count: Int32Array; weights: Int32Array; size: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * size);
  const w = new Float64Array(size);
  const inverse = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let i = 0; i < hi - lo; i++) {
      const t = Math.abs((i + lo - center + 0.5) * inverse);
      w[i] = t < 1 ? 1 - t : 0;
      total += w[i];
    }
    for (let i = 0; i < hi - lo; i++) weights[o * size + i] = Math.trunc(0.5 + (total !== 0 ? w[i] / total : w[i]) * ONE);
    first[o] = lo;
    count[o] = hi - lo;
  }
  return { first, count, weights, size };
}

function clip8(sum: number): number {
  if (sum >= ONE * 256) return 255;
  if (sum <= 0) return 0;
  return sum >> PRECISION_BITS;
}

/**
 * torchvision's Resize on a PIL image: PIL's bilinear resampling with antialiasing (the filter
 * widens with the shrink factor), in PIL's order (rows first, rounded to 8 bits, then columns) and
 * fixed-point arithmetic, so the result equals PIL's `image.resize((width, height), BILINEAR)`.
 */
export function resizeBilinear(image: RasterImage, height: number, width: number): RasterImage {
  const { width: W, height: H, channels: C } = image;
  if (H === height && W === width) return image;
  let data = image.data;
  let rowWidth = W;
  const half = 1 << (PRECISION_BITS - 1);
  if (width !== W) {
    const { first, count, weights, size } = taps(W, width);
    const out = new Uint8Array(H * width * C);
    for (let y = 0; y < H; y++) {
      const row = y * W * C;
      const outRow = y * width * C;
      for (let x = 0; x < width; x++) {
        const k = x * size;
        const n = count[x];
        let s = row + first[x] * C;
        const o = outRow + x * C;
        if (C === 3) {
          let r = half;
          let g = half;
          let b = half;
          for (let i = 0; i < n; i++, s += 3) {
            const w = weights[k + i];
            r += data[s] * w;
            g += data[s + 1] * w;
            b += data[s + 2] * w;
          }
          out[o] = clip8(r);
          out[o + 1] = clip8(g);
          out[o + 2] = clip8(b);
        } else {
          for (let c = 0; c < C; c++) {
            let sum = half;
            for (let i = 0, t = s + c; i < n; i++, t += C) sum += data[t] * weights[k + i];
            out[o + c] = clip8(sum);
          }
        }
      }
    }
    data = out;
    rowWidth = width;
  }
  if (height !== H) {
    const { first, count, weights, size } = taps(H, height);
    const stride = rowWidth * C;
    const out = new Uint8Array(height * stride);
    // Whole rows at a time: the sums stay below 2^31 (255 * 2^22 times weights summing to about 1).
    const sums = new Int32Array(stride);
    for (let y = 0; y < height; y++) {
      sums.fill(half);
      const k = y * size;
      for (let i = 0; i < count[y]; i++) {
        const w = weights[k + i];
        const source = (first[y] + i) * stride;
        for (let j = 0; j < stride; j++) sums[j] += data[source + j] * w;
      }
      const o = y * stride;
      for (let j = 0; j < stride; j++) out[o + j] = clip8(sums[j]);
    }
    data = out;
  }
  return { data, width, height, channels: C };
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
