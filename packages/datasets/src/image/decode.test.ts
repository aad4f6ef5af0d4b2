import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_PIXELS, decodeImage, decodeImageJs, encodeJpeg, encodePng } from './decode';

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

// Both decoders: sharp's (the default in Node) and the pure-JavaScript fallback.
describe.each([
  ['decodeImage (sharp)', decodeImage],
  ['decodeImageJs', async (bytes: Uint8Array, source: string) => decodeImageJs(bytes, source)],
] as const)('%s pixel limit', (_, decode) => {
  it('refuses a PNG that declares 12000x12000 pixels before decoding it', async () => {
    expect(12000 * 12000).toBeGreaterThan(MAX_IMAGE_PIXELS);
    await expect(decode(pngDeclaring(12000, 12000), 'big.png')).rejects.toThrow(
      `big.png: declares 12000x12000 pixels, more than the ${MAX_IMAGE_PIXELS} an image may have`,
    );
  });

  it('refuses a JPEG that declares 65535x65535 pixels before decoding it', async () => {
    await expect(decode(jpegDeclaring(65535, 65535), 'big.jpg')).rejects.toThrow(
      `big.jpg: declares 65535x65535 pixels, more than the ${MAX_IMAGE_PIXELS} an image may have`,
    );
  });

  it('still decodes images within the limit', async () => {
    expect((await decode(pngDeclaring(2, 2), 'small.png')).width).toBe(2);
    expect((await decode(jpegDeclaring(8, 8), 'small.jpg')).height).toBe(8);
  });
});
