import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@pyramid/core';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng } from './image/decode';
import { DecodePool } from './image/pool';
import { UniformTape, colorJitter, horizontalFlip, imagenetEvalSpec, imagenetTrainSpec, pcaLighting, randomResizedCrop, randomResizedCropBox } from './image/transforms';
import { imagenetDataset, streamBatches } from './stream';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-stream-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const rng = Rng.fromSeed(17);
const image = (height: number, width: number) => ({ data: Uint8Array.from({ length: height * width * 3 }, () => rng.int(256)), height, width, channels: 3 });

describe('ImageNet transforms', () => {
  it('random-resized crop covers 8% to 100% of the area at ratios 3/4 to 4/3', () => {
    // torchvision's definition: area fraction uniform in [0.08, 1], log-aspect uniform in
    // [ln 3/4, ln 4/3], the window inside the image (rounding allows a pixel either way).
    const r = Rng.fromSeed(5);
    let fractions = 0;
    for (let i = 0; i < 2000; i++) {
      const box = randomResizedCropBox(200, 200, r);
      const fraction = (box.width * box.height) / 40000;
      expect(fraction).toBeGreaterThan(0.07);
      expect(fraction).toBeLessThanOrEqual(1);
      expect(box.width / box.height).toBeGreaterThan(0.74 * ((box.height - 1) / box.height));
      expect(box.width / box.height).toBeLessThan(1.34 * ((box.height + 1) / box.height));
      expect(box.top + box.height).toBeLessThanOrEqual(200);
      expect(box.left + box.width).toBeLessThanOrEqual(200);
      fractions += fraction;
    }
    // Mean of the accepted areas: a little under (0.08 + 1) / 2, as large windows of extreme
    // ratios are rejected and redrawn.
    expect(fractions / 2000).toBeGreaterThan(0.45);
    expect(fractions / 2000).toBeLessThan(0.56);
    expect([randomResizedCrop(image(20, 30), 16, r).height, randomResizedCrop(image(20, 30), 16, r).width]).toEqual([16, 16]);
    // scale [1, 1] and ratio [1, 1] on a square image: the whole image, unchanged at its own size.
    const square = image(12, 12);
    expect(Array.from(randomResizedCrop(square, 12, Rng.fromSeed(1), [1, 1], [1, 1]).data)).toEqual(Array.from(square.data));
  });

  it('flips, and leaves images alone at zero strength', () => {
    const src = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), height: 1, width: 2, channels: 3 };
    expect(Array.from(horizontalFlip(src).data)).toEqual([4, 5, 6, 1, 2, 3]);
    const any = image(4, 4);
    expect(Array.from(colorJitter(any, 0, Rng.fromSeed(1)).data)).toEqual(Array.from(any.data));
    expect(Array.from(pcaLighting(any, 0, Rng.fromSeed(1)).data)).toEqual(Array.from(any.data));
  });

  it('shifts every pixel by the same PCA colour offset', () => {
    // With alpha fixed by the tape, the shift per channel is 255 * V (alpha * lambda): the same
    // for every pixel, by construction of AlexNet's lighting noise.
    const src = { data: new Uint8Array(4 * 3).fill(128), height: 2, width: 2, channels: 3 };
    const out = pcaLighting(src, 0.1, new UniformTape(Float64Array.from([0.3, 0.6, 0.9, 0.2, 0.5, 0.7])));
    for (let p = 1; p < 4; p++) for (let c = 0; c < 3; c++) expect(out.data[3 * p + c]).toBe(out.data[c]);
  });

  it('evaluates with resize 256 and centre crop 224, scaled to the size', () => {
    expect(imagenetEvalSpec(224)).toEqual({ kind: 'center-crop', height: 224, width: 224, resize: 256 });
    expect(imagenetEvalSpec(112)).toEqual({ kind: 'center-crop', height: 112, width: 112, resize: 128 });
  });

  it('refuses to draw more random numbers than the tape holds', () => {
    const tape = new UniformTape(new Float64Array(1));
    tape.uniform();
    expect(() => tape.uniform()).toThrow(/more random numbers than were drawn/);
  });
});

describe('ImageNet-layout folders, streamed in batches', () => {
  const root = join(scratch, 'imagenet');
  const synsets = ['n01440764', 'n01443537', 'n01484850'];
  for (const [i, s] of synsets.entries()) {
    mkdirSync(join(root, 'train', s), { recursive: true });
    for (let k = 0; k < 4; k++) writeFileSync(join(root, 'train', s, `${s}_${k}.JPEG.png`), encodePng(image(20 + 3 * k, 28 + i)));
  }
  mkdirSync(join(root, 'val'), { recursive: true });
  const valLabels: string[] = [];
  for (let k = 0; k < 5; k++) {
    writeFileSync(join(root, 'val', `ILSVRC2012_val_0000000${k}.png`), encodePng(image(24, 30)));
    valLabels.push(synsets[k % 3]);
  }
  writeFileSync(join(root, 'val_labels.txt'), `${valLabels.join('\n')}\n`);
  const shape = { height: 16, width: 16, channels: 3 };
  const norm = { mean: [124, 116, 104], std: [58, 57, 57], scale: 1 as const };

  it('reads train by synset folder and a flat val folder with a label file', async () => {
    const train = await imagenetDataset(root, 'train', shape, norm);
    expect(train.classNames).toEqual(synsets);
    expect(train.files.map((f) => f.label)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const val = await imagenetDataset(root, 'val', shape, norm);
    expect(val.files.map((f) => f.label)).toEqual([0, 1, 2, 0, 1]);
  });

  it('name a label that is no class', async () => {
    writeFileSync(join(scratch, 'bad-labels.txt'), 'n01440764\nn99999999\n0\n1\n2\n');
    await expect(imagenetDataset(root, 'val', shape, norm, { labelsFile: join(scratch, 'bad-labels.txt') })).rejects.toThrow(`${join(scratch, 'bad-labels.txt')}:2: label 'n99999999' is not one of the 3 classes`);
  });

  it('stream batches of the output size, the same for the same seeds', async () => {
    const train = await imagenetDataset(root, 'train', shape, norm);
    const pool = await DecodePool.create(1);
    const run = async () => {
      const out: number[][] = [];
      const stream = streamBatches(train, { batchSize: 5, transform: imagenetTrainSpec(16), rng: Rng.fromSeed(3), transformRng: (i) => Rng.fromSeed(4).fork(`b${i}`), pool, dropLast: true });
      for await (const b of stream) {
        expect(b.images.length).toBe(b.size * 16 * 16 * 3);
        out.push([...Array.from(b.labels), ...Array.from(b.images.subarray(0, 8))]);
      }
      return out;
    };
    const first = await run();
    expect(first).toHaveLength(2);
    expect(await run()).toEqual(first);
    const val = await imagenetDataset(root, 'val', shape, norm);
    const batches = [];
    for await (const b of streamBatches(val, { batchSize: 4, transform: imagenetEvalSpec(16), pool })) batches.push(b.size);
    expect(batches).toEqual([4, 1]);
  });
});
