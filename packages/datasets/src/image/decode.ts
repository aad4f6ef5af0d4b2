import { DataError } from '@pyramid/core';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

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

/** Drops alpha and converts to the wanted channel count (1: ITU-R 601 luma, 3: RGB). */
function toChannels(rgba: Uint8Array, width: number, height: number, from: number, to: 1 | 3): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n * to);
  for (let i = 0; i < n; i++) {
    const r = rgba[i * from];
    const g = from >= 3 ? rgba[i * from + 1] : r;
    const b = from >= 3 ? rgba[i * from + 2] : r;
    if (to === 3) {
      out[3 * i] = r;
      out[3 * i + 1] = g;
      out[3 * i + 2] = b;
    } else {
      out[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return out;
}

/**
 * Decodes a JPEG (jpeg-js) or PNG (pngjs), both pure JavaScript from the npm registry, into
 * `channels` channels. Errors name `source`.
 */
export function decodeImage(bytes: Uint8Array, source: string, channels: 1 | 3 = 3): RasterImage {
  const format = imageFormat(bytes);
  if (!format) throw new DataError(`${source}: not a JPEG or PNG image`);
  try {
    if (format === 'jpeg') {
      const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { data: toChannels(decoded.data, decoded.width, decoded.height, 4, channels), width: decoded.width, height: decoded.height, channels };
    }
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { data: toChannels(new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height, 4, channels), width: png.width, height: png.height, channels };
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
