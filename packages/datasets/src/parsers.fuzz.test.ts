import { gzipSync } from 'node:zlib';
import { DataError } from '@pyramid/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTar, writeTar } from './archive/tar';
import { decodeImage, decodeImageJs, encodeJpeg, encodePng } from './image/decode';
import { readIdx, writeIdx } from './idx';
import { readNpy, writeNpy } from './npy';

// Mutated and random bytes fed to every parser of this package: each must return a result or
// throw a DataError whose message starts with the file's name, never another exception, within
// the test's time limit. Seeds are fixed so that a failure repeats.

/** Bytes derived from a valid file: cut short, with bytes overwritten, inserted or removed, or random. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = valid.length;
  const truncated = fc.nat(n).map((k) => valid.slice(0, k));
  const overwritten = fc.array(fc.tuple(fc.nat(n - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((edits) => {
    const out = valid.slice();
    for (const [at, value] of edits) out[at] = value;
    return out;
  });
  const spliced = fc.tuple(fc.nat(n), fc.nat(64), fc.uint8Array({ maxLength: 64 })).map(([at, removed, inserted]) => {
    const out = new Uint8Array(n - Math.min(removed, n - at) + inserted.length);
    out.set(valid.subarray(0, at));
    out.set(inserted, at);
    out.set(valid.subarray(Math.min(n, at + removed)), at + inserted.length);
    return out;
  });
  return fc.oneof(truncated, overwritten, spliced, fc.uint8Array({ maxLength: 2 * n }));
}

function cleanlyParsedOrRefused(parse: (bytes: Uint8Array) => unknown, source: string) {
  return (bytes: Uint8Array) => {
    try {
      parse(bytes);
    } catch (error) {
      expect(error, String(error)).toBeInstanceOf(DataError);
      expect((error as Error).message.startsWith(`${source}: `)).toBe(true);
      expect((error as Error).message).not.toContain('\n');
    }
  };
}

const RUNS = { numRuns: 400, seed: 20261130 };

describe('parsers given mutated bytes', () => {
  it('.npy: an array or a DataError', () => {
    const valid = writeNpy({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    fc.assert(fc.property(mutated(valid), cleanlyParsedOrRefused((b) => readNpy(b, 'x.npy'), 'x.npy')), RUNS);
  });

  it('idx, plain and gzipped: an array or a DataError', () => {
    const valid = writeIdx(Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i), [2, 3, 3]);
    fc.assert(fc.property(mutated(valid), cleanlyParsedOrRefused((b) => readIdx(b, 'x.idx'), 'x.idx')), RUNS);
    fc.assert(fc.property(mutated(new Uint8Array(gzipSync(valid))), cleanlyParsedOrRefused((b) => readIdx(b, 'x.idx.gz'), 'x.idx.gz')), RUNS);
  });

  it('tar: entries or a DataError', async () => {
    const valid = writeTar([
      { name: 'train/a', type: 'directory' },
      { name: 'train/a/0.png', data: Uint8Array.from({ length: 700 }, (_, i) => i % 251) },
      { name: `train/b/${'long-name-'.repeat(12)}.png`, data: new Uint8Array(3) },
    ]);
    await fc.assert(
      fc.asyncProperty(mutated(valid), async (bytes) => {
        try {
          const chunks = (async function* () {
            yield bytes;
          })();
          for await (const entry of readTar(chunks, 'x.tar')) expect(entry.data.length).toBeLessThanOrEqual(bytes.length);
        } catch (error) {
          expect(error, String(error)).toBeInstanceOf(DataError);
          expect((error as Error).message.startsWith('x.tar: ')).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('PNG and JPEG: an image within the pixel limit or a DataError', () => {
    const pixels = Uint8Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 37) % 256);
    const png = encodePng({ data: pixels, width: 6, height: 5, channels: 3 });
    const jpeg = encodeJpeg({ data: pixels, width: 6, height: 5, channels: 3 });
    const decoded = (source: string) => (bytes: Uint8Array) => {
      const image = decodeImageJs(bytes, source);
      expect(image.data.length).toBe(image.width * image.height * 3);
    };
    fc.assert(fc.property(mutated(png), cleanlyParsedOrRefused(decoded('x.png'), 'x.png')), { ...RUNS, numRuns: 300 });
    fc.assert(fc.property(mutated(jpeg), cleanlyParsedOrRefused(decoded('x.jpg'), 'x.jpg')), { ...RUNS, numRuns: 300 });
  });

  it('PNG and JPEG through sharp: an image within the pixel limit or a DataError', async () => {
    const pixels = Uint8Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 37) % 256);
    const decodedOrRefused = (source: string) => async (bytes: Uint8Array) => {
      try {
        const image = await decodeImage(bytes, source);
        expect(image.data.length).toBe(image.width * image.height * 3);
      } catch (error) {
        expect(error, String(error)).toBeInstanceOf(DataError);
        expect((error as Error).message.startsWith(`${source}: `)).toBe(true);
      }
    };
    const png = encodePng({ data: pixels, width: 6, height: 5, channels: 3 });
    const jpeg = encodeJpeg({ data: pixels, width: 6, height: 5, channels: 3 });
    await fc.assert(fc.asyncProperty(mutated(png), decodedOrRefused('x.png')), { ...RUNS, numRuns: 150 });
    await fc.assert(fc.asyncProperty(mutated(jpeg), decodedOrRefused('x.jpg')), { ...RUNS, numRuns: 150 });
  });
});
