// The fast paths of the ImageNet pipeline (a crop window resampled in place, only the centre of an
// evaluation resize computed, a decoded window, the training augmentation in one pass) against two
// independent references: PIL's and torchvision's outputs, made by
// tools/reference/make_image_fixtures.py (Debian's python3-pil 9.4 and python3-torchvision 0.14)
// from the committed samples in test/fixtures/pil/, and the same transforms taken one step at a time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@pyramid/core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { normalizeInto } from '../batches';
import { type RasterImage, decodeImage } from './decode';
import { DecodePool } from './pool';
import { crop, resampleWindow, resizeCenterCrop } from './resize';
import { type RandomSource, UniformTape, UNIFORMS_PER_IMAGE, applyTransform, colorJitter, horizontalFlip, imagenetTrainSpec, pcaLighting, randomResizedCrop } from './transforms';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'pil');
interface Case {
  source: string;
  channels: 1 | 3;
  transform: { resize?: number | [number, number]; crop?: [number, number]; window?: { top: number; left: number; height: number; width: number }; size?: number };
  file: string;
}
const cases = (JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;
const bytesOf = (file: string) => new Uint8Array(readFileSync(join(FIXTURES, file)));

/** PIL's lossless PNG outputs, read with pngjs (independent of the decoder under test). */
function pilOutput(file: string, channels: number): RasterImage {
  const png = PNG.sync.read(readFileSync(join(FIXTURES, file)));
  const data = new Uint8Array(png.width * png.height * channels);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[4 * i + c];
  return { data, width: png.width, height: png.height, channels };
}

function mirrored(image: RasterImage): RasterImage {
  const { data, width, height, channels } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) out[(y * width + width - 1 - x) * channels + c] = data[(y * width + x) * channels + c];
  return { ...image, data: out };
}

const sameBytes = (a: RasterImage, b: RasterImage) => a.width === b.width && a.height === b.height && a.channels === b.channels && Buffer.compare(a.data, b.data) === 0;

describe('resampling only what the output needs, byte for byte as PIL and torchvision', () => {
  const windows = cases.filter((c) => c.transform.window);
  const centres = cases.filter((c) => typeof c.transform.resize === 'number' && c.transform.crop);

  it.each(windows.map((c) => [c.file, c] as const))('%s: the window resampled in place, in the decoded window, and mirrored', async (_, c) => {
    const { window, size } = c.transform as Required<Case['transform']>;
    const want = pilOutput(c.file, c.channels);
    const whole = await decodeImage(bytesOf(c.source), c.source, c.channels);
    const part = { top: 0, left: 0, height: size, width: size };
    expect(sameBytes(resampleWindow(whole, window, size, size, part), want)).toBe(true);
    const decoded = await decodeImage(bytesOf(c.source), c.source, c.channels, window);
    expect([decoded.width, decoded.height]).toEqual([window.width, window.height]);
    expect(sameBytes(resampleWindow(decoded, { top: 0, left: 0, height: window.height, width: window.width }, size, size, part), want)).toBe(true);
    expect(sameBytes(resampleWindow(whole, window, size, size, part, true), mirrored(want))).toBe(true);
  });

  it.each(centres.map((c) => [c.file, c] as const))('%s: Resize and CenterCrop as one resampling of the centre', async (_, c) => {
    const image = await decodeImage(bytesOf(c.source), c.source, c.channels);
    const [height, width] = c.transform.crop!;
    expect(sameBytes(resizeCenterCrop(image, c.transform.resize as number, height, width), pilOutput(c.file, c.channels))).toBe(true);
  });
});

describe('decoding a window', () => {
  it.each(['photo-500x375.jpg', 'photo-progressive-320x200.jpg', 'photo-444-200x320.jpg', 'photo-grey-256x171.jpg', 'png-palette-120x90.png'])('%s: the same pixels as the whole image cropped', async (file) => {
    const whole = await decodeImage(bytesOf(file), file, 3);
    for (const window of [
      { top: 0, left: 0, height: 7, width: whole.width },
      { top: 13, left: 29, height: whole.height >> 1, width: Math.floor(whole.width / 3) },
      { top: whole.height - 31, left: whole.width - 17, height: 31, width: 17 },
    ]) {
      const part = await decodeImage(bytesOf(file), file, 3, window);
      expect(sameBytes(part, crop(whole, window.top, window.left, window.height, window.width))).toBe(true);
    }
  });
});

/** Records where colour jitter starts drawing, to tell which of its six orders a draw took. */
class Recorder implements RandomSource {
  readonly drawn: number[] = [];
  constructor(private readonly inner: RandomSource) {}
  uniform(): number {
    const u = this.inner.uniform();
    this.drawn.push(u);
    return u;
  }
}

/** The four steps one after another, as the separate transforms apply them. */
function stepByStep(image: RasterImage, spec: { size: number; jitter: number; lighting: number }, uniforms: Float64Array): { out: RasterImage; order: string; flipped: boolean } {
  const random = new Recorder(new UniformTape(uniforms));
  let out = randomResizedCrop(image, spec.size, random);
  const flipped = random.uniform() < 0.5;
  if (flipped) out = horizontalFlip(out);
  const jitterStart = random.drawn.length;
  if (spec.jitter > 0) out = colorJitter(out, spec.jitter, random);
  out = pcaLighting(out, spec.lighting, random);
  // The order is the Fisher-Yates shuffle of (brightness, contrast, saturation) by the first two draws.
  const order = ['b', 'c', 's'];
  for (let i = 2, k = jitterStart; i > 0 && spec.jitter > 0 && out.channels === 3; i--, k++) {
    const j = Math.floor(random.drawn[k] * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { out, order: order.join(''), flipped };
}

describe('ImageNet training augmentation in one pass', () => {
  const rng = Rng.fromSeed(23);
  const noisy = (height: number, width: number, channels: number): RasterImage => ({
    data: Uint8Array.from({ length: height * width * channels }, (_, i) => (i % 251) + rng.int(5)),
    height,
    width,
    channels,
  });

  it('gives the bytes of random-resized crop, flip, jitter and lighting one after another, in every jitter order', async () => {
    const photo = await decodeImage(bytesOf('photo-500x375.jpg'), 'photo-500x375.jpg', 3);
    const orders = new Set<string>();
    const flips = new Set<boolean>();
    const paper = { kind: 'imagenet-train', jitter: 0.4, lighting: 0.1 } as const;
    const runs: [RasterImage, { kind: 'imagenet-train'; size: number; jitter: number; lighting: number }][] = [
      [photo, { ...paper, size: 224 }],
      [noisy(61, 97, 3), { ...paper, size: 40 }],
      [noisy(61, 97, 3), { ...paper, size: 32, jitter: 0 }],
      [noisy(61, 97, 3), { ...paper, size: 32, lighting: 0 }],
      [noisy(40, 30, 1), { ...paper, size: 24 }],
    ];
    expect(imagenetTrainSpec(224)).toEqual({ ...paper, size: 224 });
    for (const [image, spec] of runs) {
      for (let t = 0; t < 60; t++) {
        const uniforms = Float64Array.from({ length: UNIFORMS_PER_IMAGE }, () => rng.uniform());
        const want = stepByStep(image, spec, uniforms);
        orders.add(want.order);
        const got = applyTransform(image, spec, new UniformTape(uniforms));
        expect(sameBytes(got, want.out)).toBe(true);
        flips.add(want.flipped);
      }
    }
    expect([...orders].sort()).toEqual(['bcs', 'bsc', 'cbs', 'csb', 'sbc', 'scb']);
    expect(flips.size).toBe(2);
  });

  it('decodes only the crop window on the decoding threads, with the bytes of the whole image transformed', async () => {
    const pool = await DecodePool.create(1);
    for (const file of ['photo-500x375.jpg', 'photo-375x500.jpg', 'photo-progressive-320x200.jpg', 'png-rgba-120x90.png']) {
      const bytes = bytesOf(file);
      const whole = await decodeImage(bytes, file, 3);
      const items = Array.from({ length: 8 }, () => ({ bytes, source: file, uniforms: Float64Array.from({ length: UNIFORMS_PER_IMAGE }, () => rng.uniform()) }));
      const results = await pool.run(items, 3, imagenetTrainSpec(32));
      results.forEach((r, i) => {
        expect('data' in r && Buffer.compare(r.data, applyTransform(whole, imagenetTrainSpec(32), new UniformTape(items[i].uniforms)).data)).toBe(0);
      });
    }
  });
});

describe('normalisation', () => {
  it('maps each value to (x / scale - mean) / std per channel, as worked out by hand', () => {
    const out = new Float32Array(6);
    normalizeInto(out, Uint8Array.from([0, 128, 255, 255, 0, 128]), { mean: [124, 116, 104], std: [58, 57, 57], scale: 1 });
    const want = [-124 / 58, 12 / 57, 151 / 57, 131 / 58, -116 / 57, 24 / 57];
    want.forEach((w, i) => expect(out[i]).toBeCloseTo(w, 5));
    const grey = new Float32Array(2);
    normalizeInto(grey, Uint8Array.from([0, 255]), { mean: [0.5], std: [0.25], scale: 255 });
    expect(grey[0]).toBeCloseTo(-2, 6);
    expect(grey[1]).toBeCloseTo(2, 6);
  });
});
