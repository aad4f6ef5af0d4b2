import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decodeImage, decodeImageJs, encodePng, imageDecoder } from './decode';

// sharp's binary missing for this platform, as its loader reports it.
vi.mock('sharp', () => {
  throw new Error('Could not load the "sharp" module using the linux-x64 runtime');
});

describe('decoding where sharp does not load', () => {
  it('falls back to jpeg-js and pngjs, saying once why and what differs', async () => {
    const warnings: string[] = [];
    const listen = (w: Error) => warnings.push(w.message);
    process.on('warning', listen);
    try {
      expect(await imageDecoder()).toBe('jpeg-js');
      const pixels = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
      const png = await decodeImage(encodePng({ data: pixels, width: 4, height: 3, channels: 3 }), 'x.png');
      expect(Array.from(png.data)).toEqual(Array.from(pixels));
      const file = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'pil', 'cifar-cat-0001.jpg');
      const bytes = new Uint8Array(readFileSync(file));
      expect(Array.from((await decodeImage(bytes, file)).data)).toEqual(Array.from(decodeImageJs(bytes, file).data));
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^sharp does not load here \(.*\): decoding JPEG and PNG with jpeg-js and pngjs, whose JPEG pixels differ from PIL's/);
      expect(warnings[0]).toContain('npm install --include=optional sharp');
    } finally {
      process.off('warning', listen);
    }
  });
});
