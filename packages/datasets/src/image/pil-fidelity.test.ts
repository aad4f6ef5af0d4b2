// Decoding and preprocessing against PIL and torchvision: every expected value below was produced by
// tools/reference/make_image_fixtures.py (Debian's python3-pil 9.4 and python3-torchvision 0.14)
// from the committed sample images in test/fixtures/pil/.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeImageJs, imageDecoder, type RasterImage } from './decode';
import { centerCrop, crop, resizeBilinear, resizeShorterSide } from './resize';
import { UniformTape, preprocessImage, randomResizedCropBox } from './transforms';
import { inspectImageFolder, loadImageFolder } from '../image-folder';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'pil');
interface Expected {
  decoded: { file: string; width: number; height: number; rgb: string; l: string }[];
  cases: { source: string; channels: 1 | 3; transform: { resize?: number | [number, number]; crop?: [number, number]; window?: { top: number; left: number; height: number; width: number }; size?: number }; file: string; width: number; height: number }[];
  randomResizedCrop: { width: number; height: number; scale: [number, number]; ratio: [number, number]; uniforms: number[]; box: { top: number; left: number; height: number; width: number } }[];
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const bytesOf = (file: string) => new Uint8Array(readFileSync(join(FIXTURES, file)));
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** PIL's lossless PNG outputs, read with pngjs (independent of the decoder under test). */
function pilOutput(file: string, channels: number): RasterImage {
  const png = PNG.sync.read(readFileSync(join(FIXTURES, file)));
  const data = new Uint8Array(png.width * png.height * channels);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[4 * i + c];
  return { data, width: png.width, height: png.height, channels };
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('decoding as PIL decodes', () => {
  it('runs through sharp here', async () => {
    expect(await imageDecoder()).toBe('sharp');
  });

  it.each(expected.decoded.map((d) => [d.file, d] as const))('%s: RGB and L pixels byte for byte equal to PIL convert()', async (file, d) => {
    const rgb = await decodeImage(bytesOf(file), file, 3);
    const grey = await decodeImage(bytesOf(file), file, 1);
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([d.width, d.height, 3]);
    expect(sha256(rgb.data)).toBe(d.rgb);
    expect(sha256(grey.data)).toBe(d.l);
  });

  it('tells jpeg-js apart: the pure-JavaScript fallback does not match PIL on the CIFAR sample', () => {
    // Shows that the comparison above can fail: libjpeg-turbo and jpeg-js round their IDCT differently.
    const d = expected.decoded.find((x) => x.file.startsWith('cifar-'))!;
    expect(sha256(decodeImageJs(bytesOf(d.file), d.file, 3).data)).not.toBe(d.rgb);
  });

  it('names the file of a truncated JPEG', async () => {
    const cut = bytesOf('photo-300x300.jpg').subarray(0, 2000);
    await expect(decodeImage(cut, 'cut.jpg')).rejects.toThrow(/^cut\.jpg: cannot decode JPEG/);
  });
});

describe('resizing and cropping as torchvision does on PIL images', () => {
  it.each(expected.cases.map((c) => [c.file, c] as const))('%s within one level', async (_, c) => {
    let image = await decodeImage(bytesOf(c.source), c.source, c.channels);
    const t = c.transform;
    if (t.window) image = resizeBilinear(crop(image, t.window.top, t.window.left, t.window.height, t.window.width), t.size!, t.size!);
    if (typeof t.resize === 'number') image = resizeShorterSide(image, t.resize);
    else if (t.resize) image = resizeBilinear(image, t.resize[0], t.resize[1]);
    if (t.crop) image = centerCrop(image, t.crop[0], t.crop[1]);
    const want = pilOutput(c.file, c.channels);
    expect([image.width, image.height]).toEqual([want.width, want.height]);
    expect(maxDifference(image.data, want.data)).toBeLessThanOrEqual(1);
  });
});

describe("RandomResizedCrop's window", () => {
  it("equals torchvision's get_params fed the same uniforms, fallback included", () => {
    expect(expected.randomResizedCrop.length).toBeGreaterThan(200);
    expect(expected.randomResizedCrop.some((c) => c.uniforms.length === 20)).toBe(true);
    for (const c of expected.randomResizedCrop) {
      const tape = new UniformTape(Float64Array.from(c.uniforms));
      expect({ ...c, box: randomResizedCropBox(c.width, c.height, tape, c.scale, c.ratio) }).toEqual(c);
    }
  });
});

describe("an image folder's evaluation preprocessing", () => {
  it("equals torchvision's Resize(256) and CenterCrop(224), as predict applies it", async () => {
    const root = mkdtempSync(join(tmpdir(), 'pyramid-pil-'));
    try {
      mkdirSync(join(root, 'photos'));
      for (const f of ['photo-375x500.jpg', 'photo-500x375.jpg']) copyFileSync(join(FIXTURES, f), join(root, 'photos', f));
      expect(await inspectImageFolder(root)).toMatchObject({ images: 2, classNames: ['photos'], height: 500, width: 375, channels: 3 });
      const preprocessing = { kind: 'center-crop', resize: 256 } as const;
      const data = await loadImageFolder(root, { height: 224, width: 224, channels: 3, preprocessing, threads: 1 });
      const pixels = 224 * 224 * 3;
      for (const [i, f] of ['photo-375x500', 'photo-500x375'].entries()) {
        const want = pilOutput(`out-${f}-resize256-crop224.png`, 3);
        expect(maxDifference(data.images.subarray(i * pixels, (i + 1) * pixels), want.data)).toBeLessThanOrEqual(1);
        const predicted = preprocessImage(await decodeImage(bytesOf(`${f}.jpg`), f, 3), preprocessing, { height: 224, width: 224 });
        expect(maxDifference(predicted.data, want.data)).toBeLessThanOrEqual(1);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
