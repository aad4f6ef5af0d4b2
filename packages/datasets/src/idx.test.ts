import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DEBIAN_FASHION_MNIST_DIR, loadIdxDataset, readIdx, writeIdx } from './idx';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-idx-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('idx files', () => {
  it('read the header and data, gzipped or not', () => {
    // By hand: magic 0x00000803, dims 2, 2, 3, then 12 bytes.
    const bytes = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, ...Array.from({ length: 12 }, (_, i) => i)]);
    for (const file of [bytes, gzipSync(bytes)]) {
      const a = readIdx(new Uint8Array(file), 'x');
      expect(a.shape).toEqual([2, 2, 3]);
      expect(Array.from(a.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    }
  });

  it('name a bad magic number, a wrong length and a corrupt gzip stream', () => {
    expect(() => readIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 1, 5]), 'f')).toThrow('f: bad magic number 0x01020801 (not an idx file)');
    expect(() => readIdx(writeIdx(new Uint8Array(5), [6]), 'f')).toThrow('f: header says 6 = 6 values but 5 bytes follow');
    expect(() => readIdx(gzipSync(writeIdx(new Uint8Array(5), [5])).subarray(0, 12), 'f.gz')).toThrow(/f\.gz: corrupt gzip data/);
  });

  it('refuse a gzipped file that unpacks to more than the limit, before unpacking all of it', () => {
    // 10 MB of zeros compress to about 10 KB: the ratio of a decompression bomb.
    const bomb = gzipSync(new Uint8Array(10_000_000));
    expect(bomb.length).toBeLessThan(20_000);
    expect(() => readIdx(bomb, 'bomb.idx.gz', 1_000_000)).toThrow('bomb.idx.gz: unpacks to more than 1000000 bytes');
  });

  it('load a dataset folder and check images against labels', async () => {
    const dir = join(scratch, 'mnist');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), writeIdx(new Uint8Array(3 * 4), [3, 2, 2]));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(writeIdx(Uint8Array.from([1, 2, 3]), [3])));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), writeIdx(new Uint8Array(4), [1, 2, 2]));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), writeIdx(Uint8Array.from([12]), [1]));
    await expect(loadIdxDataset(dir, 'mnist')).rejects.toThrow('mnist/test: label 12 of image 0 is out of range for 10 classes');
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), writeIdx(Uint8Array.from([9, 9]), [2]));
    await expect(loadIdxDataset(dir, 'mnist')).rejects.toThrow(`${join(dir, 't10k-images-idx3-ubyte')} has 1 images but ${join(dir, 't10k-labels-idx1-ubyte')} has 2 labels`);
  });

  // CI installs the Debian package (.ci/run): there the test must run, not be skipped.
  it.runIf(existsSync(DEBIAN_FASHION_MNIST_DIR) || process.env.CI)('load the real Fashion-MNIST from Debian: 60,000 + 10,000 balanced images', async () => {
    const { train, test } = await loadIdxDataset(DEBIAN_FASHION_MNIST_DIR, 'fashion-mnist');
    expect([train.labels.length, test.labels.length]).toEqual([60_000, 10_000]);
    expect(train.shape).toEqual({ height: 28, width: 28, channels: 1 });
    // Zalando's description: 6,000 training and 1,000 test images per class.
    const counts = new Array(10).fill(0);
    test.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(new Array(10).fill(1000));
    // Its customary statistics: mean 0.2860 and std 0.3530 on 0-1 pixels.
    expect(train.statistics!.mean[0] / 255).toBeCloseTo(0.286, 3);
    expect(train.statistics!.std[0] / 255).toBeCloseTo(0.353, 3);
  });
});
