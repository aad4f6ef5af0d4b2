import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@pyramid/core';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg, encodePng } from './image/decode';
import { resizeBilinear, resizeShorterSide } from './image/resize';
import { loadImageFolder } from './image-folder';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-images-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const SHARED = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');
const rng = Rng.fromSeed(3);

function randomImage(height: number, width: number) {
  return { data: Uint8Array.from({ length: height * width * 3 }, () => rng.int(256)), height, width, channels: 3 };
}

describe('image decoding and resizing', () => {
  it('decodes PNG losslessly', async () => {
    const image = randomImage(5, 7);
    const back = await decodeImage(encodePng(image), 'x.png');
    expect([back.width, back.height, back.channels]).toEqual([7, 5, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(image.data));
  });

  it('refuses bytes that are no image, naming the file', async () => {
    await expect(decodeImage(new TextEncoder().encode('hello'), 'a/b.jpg')).rejects.toThrow('a/b.jpg: not a JPEG or PNG image');
    const cut = encodeJpeg(randomImage(16, 16)).subarray(0, 100);
    await expect(decodeImage(cut, 'c.jpg')).rejects.toThrow(/c\.jpg: cannot decode JPEG/);
  });

  it('halves a row with the triangle filter widened twofold, as PIL does', () => {
    // By hand: output x has its centre at 2x + 1 in source coordinates; the taps within 2 of it at
    // pixel centres i + 0.5 weigh 1 - |i + 0.5 - centre| / 2, normalised: 3/7, 3/7, 1/7 at the left
    // edge (0, 10, 20 -> 50/7), 1/7, 3/7, 3/7 at the right (10, 20, 30 -> 160/7).
    const image = { data: Uint8Array.from([0, 10, 20, 30]), width: 4, height: 1, channels: 1 };
    expect(Array.from(resizeBilinear(image, 1, 2).data)).toEqual([7, 23]);
    expect([resizeShorterSide({ ...randomImage(300, 400) }, 256).width, resizeShorterSide(randomImage(300, 400), 256).height]).toEqual([341, 256]);
  });
});

describe('image folders', () => {
  function tree(name: string, files: Record<string, Uint8Array | string>): string {
    const root = join(scratch, name);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return root;
  }

  it('label classes by their sorted folder names and read every image', async () => {
    const a = randomImage(4, 4);
    const root = tree('ok', { 'zebra/1.png': encodePng(a), 'ant/2.png': encodePng(randomImage(4, 4)), 'ant/3.PNG': encodePng(randomImage(4, 4)), 'ant/notes.txt': 'x' });
    const warnings: string[] = [];
    const data = await loadImageFolder(root, { onWarning: (w) => warnings.push(w) });
    expect(data.classNames).toEqual(['ant', 'zebra']);
    expect(Array.from(data.labels)).toEqual([0, 0, 1]);
    expect(Array.from(data.images.subarray(2 * 48))).toEqual(Array.from(a.data));
    expect(warnings).toEqual([`${root}: ignored 1 file without an image extension`]);
    const given = await loadImageFolder(root, { classNames: ['zebra', 'ant'] });
    expect(Array.from(given.labels)).toEqual([1, 1, 0]);
  });

  it('resize images of other sizes to the requested one', async () => {
    const root = tree('sizes', { 'a/1.png': encodePng(randomImage(8, 8)), 'b/2.png': encodePng(randomImage(16, 12)) });
    const data = await loadImageFolder(root, { height: 8, width: 8 });
    expect(data.shape).toEqual({ height: 8, width: 8, channels: 3 });
    expect(data.images.length).toBe(2 * 8 * 8 * 3);
  });

  it('name an empty class folder, and a bad image unless told to skip it', async () => {
    const empty = tree('empty', { 'a/1.png': encodePng(randomImage(4, 4)) });
    mkdirSync(join(empty, 'b'));
    await expect(loadImageFolder(empty)).rejects.toThrow(`${join(empty, 'b')}: empty class folder (no .jpg, .jpeg or .png files)`);
    const bad = tree('bad', { 'a/1.png': encodePng(randomImage(4, 4)), 'a/2.jpg': 'not really a jpeg' });
    await expect(loadImageFolder(bad)).rejects.toThrow(`${join(bad, 'a', '2.jpg')}: not a JPEG or PNG image`);
    const warnings: string[] = [];
    const data = await loadImageFolder(bad, { skipBad: true, onWarning: (w) => warnings.push(w) });
    expect(data.labels.length).toBe(1);
    expect(warnings[0]).toMatch(/^skipped 1 image that could not be decoded/);
  });

  it.runIf(existsSync(join(SHARED, 'cifar10-jpeg.tar.gz')) || process.env.CI)('reads the real CIFAR-10 JPEG tree with exactly the pixels PIL decodes', async () => {
    const test = await loadImageFolder(join(SHARED, 'cifar10-jpeg.tar.gz'), { prefix: 'test', threads: 1 });
    expect(test.labels.length).toBe(10_000);
    expect(test.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    // The shared reference: the first 100 files of each class decoded by PIL (libjpeg-turbo).
    const reference = new Uint8Array(readFileSync(join(SHARED, 'cifar10_test1000_u8_nhwc.bin')));
    let differing = 0;
    for (let c = 0; c < 10; c++) {
      const mine = test.images.subarray(c * 1000 * 3072, (c * 1000 + 100) * 3072);
      const theirs = reference.subarray(c * 100 * 3072, (c + 1) * 100 * 3072);
      for (let i = 0; i < mine.length; i++) if (mine[i] !== theirs[i]) differing++;
    }
    expect(differing).toBe(0);
  });
});
