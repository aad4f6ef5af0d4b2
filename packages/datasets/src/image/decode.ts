import { DataError, isMissingModule } from '@pyramid/core';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { type ImageWindow, crop } from './resize';

/** A decoded image: uint8 pixels, HWC. */
export interface RasterImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export function imageFormat(bytes: Uint8Array): 'jpeg' | 'png' | null {
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  return null;
}

/**
 * Converts decoded pixels of `from` channels (1 grey, 2 grey and alpha, 3 RGB, 4 RGBA) to `to`
 * as PIL's convert('RGB') and convert('L') do: alpha dropped, grey replicated, and luma in PIL's
 * fixed point, (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601).
 */
function toChannels(pixels: Uint8Array, width: number, height: number, from: number, to: 1 | 3): Uint8Array {
  const n = width * height;
  if (from === to) return pixels.length === n * to ? pixels : pixels.slice(0, n * to);
  const out = new Uint8Array(n * to);
  const grey = from <= 2;
  for (let i = 0, s = 0; i < n; i++, s += from) {
    if (grey) {
      if (to === 1) out[i] = pixels[s];
      else out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = pixels[s];
    } else if (to === 3) {
      out[3 * i] = pixels[s];
      out[3 * i + 1] = pixels[s + 1];
      out[3 * i + 2] = pixels[s + 2];
    } else {
      out[i] = (pixels[s] * 19595 + pixels[s + 1] * 38470 + pixels[s + 2] * 7471 + 0x8000) >>> 16;
    }
  }
  return out;
}

/**
 * Pixels an image may declare (50 megapixels, 200 MB as RGBA): the size is read from the header
 * and refused before any pixel is decoded, so a small file cannot claim gigabytes.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Width and height as a PNG's IHDR chunk declares them. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Width and height of a JPEG's first start-of-frame marker (SOF0 to SOF15 but DHT, JPG and DAC). */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] };
    }
    if (marker === 0xda || length < 2) return null;
    at += 2 + length;
  }
  return null;
}

/** Width and height as a JPEG's or PNG's header declares them, without decoding; null if unreadable. */
export function declaredSize(bytes: Uint8Array): { width: number; height: number } | null {
  const format = imageFormat(bytes);
  return format === 'png' ? pngSize(bytes) : format === 'jpeg' ? jpegSize(bytes) : null;
}

function assertDeclaredSize(bytes: Uint8Array, format: 'jpeg' | 'png', source: string): void {
  const size = format === 'png' ? pngSize(bytes) : jpegSize(bytes);
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new DataError(`${source}: declares ${size.width}x${size.height} pixels, more than the ${MAX_IMAGE_PIXELS} an image may have`);
  }
}

/**
 * Decodes a JPEG (jpeg-js) or PNG (pngjs) in pure JavaScript, for where sharp does not run. Its
 * JPEG pixels differ from libjpeg-turbo's (PIL's, torchvision's) by a few levels. Errors name `source`.
 */
export function decodeImageJs(bytes: Uint8Array, source: string, channels: 1 | 3 = 3): RasterImage {
  const format = imageFormat(bytes);
  if (!format) throw new DataError(`${source}: not a JPEG or PNG image`);
  assertDeclaredSize(bytes, format, source);
  try {
    if (format === 'jpeg') {
      const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
      return { data: toChannels(decoded.data, decoded.width, decoded.height, 4, channels), width: decoded.width, height: decoded.height, channels };
    }
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { data: toChannels(new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height, 4, channels), width: png.width, height: png.height, channels };
  } catch (error) {
    throw new DataError(`${source}: cannot decode ${format.toUpperCase()} (${(error as Error).message})`);
  }
}

type Sharp = (typeof import('sharp'))['default'];
let sharpLoad: Promise<Sharp | null> | undefined;

/**
 * sharp (libvips with libjpeg-turbo's decoder, prebuilt per platform) when it loads; else null,
 * once warned, and decoding falls back to jpeg-js and pngjs.
 */
function loadSharp(): Promise<Sharp | null> {
  sharpLoad ??= import('sharp').then(
    (module) => module.default,
    (error: unknown) => {
      const why = isMissingModule(error, 'sharp') ? 'sharp is not installed' : `sharp does not load here (${String((error as Error).message).split('\n')[0]})`;
      if (typeof process !== 'undefined') process.emitWarning(
        `${why}: decoding JPEG and PNG with jpeg-js and pngjs, whose JPEG pixels differ from PIL's and torchvision's by a few levels; install sharp's binary for this platform with npm install --include=optional sharp`,
        'PyramidImageDecoder',
      );
      return null;
    },
  );
  return sharpLoad;
}

/** Which decoder decodeImage uses on this machine. */
export async function imageDecoder(): Promise<'sharp' | 'jpeg-js'> {
  return (await loadSharp()) ? 'sharp' : 'jpeg-js';
}

/**
 * Decodes a JPEG or PNG into `channels` channels with exactly PIL's pixels (Image.open(f)
 * .convert('RGB' or 'L')): through sharp, embedded colour profiles ignored and no EXIF rotation,
 * as PIL does. With `window` (inside the image), only that part comes out, the same pixels as
 * cropped from the whole: a JPEG's rows below it are not decoded. Errors name `source`.
 */
export async function decodeImage(bytes: Uint8Array, source: string, channels: 1 | 3 = 3, window?: ImageWindow): Promise<RasterImage> {
  const format = imageFormat(bytes);
  if (!format) throw new DataError(`${source}: not a JPEG or PNG image`);
  assertDeclaredSize(bytes, format, source);
  const sharp = await loadSharp();
  if (!sharp) {
    const image = decodeImageJs(bytes, source, channels);
    return window ? crop(image, window.top, window.left, window.height, window.width) : image;
  }
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    const pipeline = sharp(bytes, { ignoreIcc: true, limitInputPixels: MAX_IMAGE_PIXELS, sequentialRead: true });
    if (window) pipeline.extract(window);
    decoded = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new DataError(`${source}: cannot decode ${format.toUpperCase()} (${(error as Error).message})`);
  }
  const { data, info } = decoded;
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: toChannels(pixels, info.width, info.height, info.channels, channels), width: info.width, height: info.height, channels };
}

/**
 * Size and kind of an image without decoding its pixels (sharp; the pure-JavaScript fallback
 * decodes): channels 1 for greyscale (with or without alpha), 3 for colour or a palette.
 */
export async function inspectImage(bytes: Uint8Array, source: string): Promise<{ width: number; height: number; channels: 1 | 3 }> {
  const format = imageFormat(bytes);
  if (!format) throw new DataError(`${source}: not a JPEG or PNG image`);
  const sharp = await loadSharp();
  if (!sharp) {
    const image = decodeImageJs(bytes, source, 3);
    let grey = true;
    for (let i = 0; i < image.data.length && grey; i += 3) grey = image.data[i] === image.data[i + 1] && image.data[i] === image.data[i + 2];
    return { width: image.width, height: image.height, channels: grey ? 1 : 3 };
  }
  try {
    const meta = await sharp(bytes).metadata();
    return { width: meta.width, height: meta.height, channels: meta.channels <= 2 && !meta.isPalette ? 1 : 3 };
  } catch (error) {
    throw new DataError(`${source}: cannot decode ${format.toUpperCase()} (${(error as Error).message})`);
  }
}

/** Encodes RGB or grey pixels as PNG (tests, fixtures and previews). */
export function encodePng(image: RasterImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  for (let i = 0; i < image.width * image.height; i++) {
    const c = image.channels;
    png.data[4 * i] = image.data[c * i];
    png.data[4 * i + 1] = image.data[c * i + (c >= 3 ? 1 : 0)];
    png.data[4 * i + 2] = image.data[c * i + (c >= 3 ? 2 : 0)];
    png.data[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** Encodes RGB pixels as JPEG at `quality` (tests and fixtures). */
export function encodeJpeg(image: RasterImage, quality = 90): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = image.data[image.channels * i + (image.channels >= 3 ? c : 0)];
    rgba[4 * i + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: image.width, height: image.height }, quality).data);
}
