import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_PIXELS, decodeImage, encodeJpeg, encodePng } from './decode';

/** A valid 2x2 PNG whose IHDR is rewritten to declare `width` x `height` (its CRC no longer matches). */
function pngDeclaring(width: number, height: number): Uint8Array {
  const png = encodePng({ data: new Uint8Array(12).fill(100), width: 2, height: 2, channels: 3 });
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return png;
}

/** A valid 8x8 JPEG whose start-of-frame marker is rewritten to declare `width` x `height`. */
function jpegDeclaring(width: number, height: number): Uint8Array {
  const jpeg = encodeJpeg({ data: new Uint8Array(8 * 8 * 3).fill(100), width: 8, height: 8, channels: 3 });
  for (let i = 2; i + 9 < jpeg.length; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) {
      jpeg[i + 5] = height >> 8;
      jpeg[i + 6] = height & 255;
      jpeg[i + 7] = width >> 8;
      jpeg[i + 8] = width & 255;
      return jpeg;
    }
  }
  throw new Error('no SOF0 marker');
}

describe('decodeImage pixel limit', () => {
  it('refuses a PNG that declares 12000x12000 pixels before decoding it', () => {
    expect(12000 * 12000).toBeGreaterThan(MAX_IMAGE_PIXELS);
    expect(() => decodeImage(pngDeclaring(12000, 12000), 'big.png')).toThrow(
      `big.png: declares 12000x12000 pixels, more than the ${MAX_IMAGE_PIXELS} an image may have`,
    );
  });

  it('refuses a JPEG that declares 65535x65535 pixels before decoding it', () => {
    expect(() => decodeImage(jpegDeclaring(65535, 65535), 'big.jpg')).toThrow(
      `big.jpg: declares 65535x65535 pixels, more than the ${MAX_IMAGE_PIXELS} an image may have`,
    );
  });

  it('still decodes images within the limit', () => {
    expect(decodeImage(pngDeclaring(2, 2), 'small.png').width).toBe(2);
    expect(decodeImage(jpegDeclaring(8, 8), 'small.jpg').height).toBe(8);
  });
});
