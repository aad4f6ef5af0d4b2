import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng } from '@pyramid/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTar } from './archive/tar';
import { type CifarArchive, cifar100Archive, cifar10Archive, loadCifar, parseCifarRecords, writeCifarRecords } from './cifar';
import { DownloadUnreachableError } from './download';

/**
 * Small archives in the real CIFAR binary format, generated here, served from 127.0.0.1 by a
 * server that can cut a response short: no test reaches the internet.
 */
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-cifar-'));
const rng = Rng.fromSeed(42);

function randomImages(n: number): Uint8Array {
  return Uint8Array.from({ length: n * 3072 }, () => rng.int(256));
}

function cifar10Fixture(perBatch = 4) {
  const batches = Array.from({ length: 6 }, () => {
    const images = randomImages(perBatch);
    const labels = Array.from({ length: perBatch }, () => [rng.int(10)]);
    return { images, labels, bytes: writeCifarRecords(images, labels, 1) };
  });
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  const meta = new TextEncoder().encode('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
  const tar = writeTar([
    { name: 'cifar-10-batches-bin/', type: 'directory' },
    ...names.map((n, i) => ({ name: `cifar-10-batches-bin/${n}`, data: batches[i].bytes })),
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: meta },
  ]);
  const archive = gzipSync(tar);
  return { batches, archive, md5: createHash('md5').update(archive).digest('hex') };
}

const fixture = cifar10Fixture();
let server: Server;
let base = '';
const requests: { path: string; range: string | undefined }[] = [];
/** Paths whose next response is cut after this many bytes. */
const cutAfter = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ path: req.url!, range: req.headers.range });
    if (req.url !== '/cifar-10-binary.tar.gz' && req.url !== '/corrupt.tar.gz') {
      res.writeHead(404).end();
      return;
    }
    const body = req.url === '/corrupt.tar.gz' ? fixture.archive.subarray(0, 500) : fixture.archive;
    const start = req.headers.range ? Number(/bytes=(\d+)-/.exec(req.headers.range)![1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(start ? 206 : 200, { 'content-length': slice.length, 'accept-ranges': 'bytes' });
    const cut = cutAfter.get(req.url!);
    if (cut !== undefined) {
      cutAfter.delete(req.url!);
      // Send the first bytes, give the client time to read them, then drop the connection.
      res.write(slice.subarray(0, cut));
      setTimeout(() => res.socket?.end(), 200);
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(scratch, { recursive: true, force: true });
});

function expectFixture(data: Awaited<ReturnType<typeof loadCifar>>) {
  const { batches } = fixture;
  expect(data.train.labels.length).toBe(20);
  expect(data.test.labels.length).toBe(4);
  // Record 0 of batch 1 and of the test batch, NHWC, as written above.
  expect(Array.from(data.train.images.subarray(0, 3072))).toEqual(Array.from(batches[0].images.subarray(0, 3072)));
  expect(Array.from(data.test.images.subarray(3072, 6144))).toEqual(Array.from(batches[5].images.subarray(3072, 6144)));
  expect(Array.from(data.train.labels.subarray(4, 8))).toEqual(batches[1].labels.map((l) => l[0]));
  expect(data.train.classNames[9]).toBe('truck');
}

describe('CIFAR binary archives', () => {
  it('parse records into NHWC images with labels', () => {
    // One record, by hand: label 7, red plane all 1, green all 2, blue all 3.
    const record = new Uint8Array(3073);
    record[0] = 7;
    record.fill(1, 1, 1025);
    record.fill(2, 1025, 2049);
    record.fill(3, 2049);
    const { images, labels } = parseCifarRecords(record, cifar10Archive, 0, 'one.bin');
    expect(labels[0]).toBe(7);
    expect(Array.from(images.subarray(0, 6))).toEqual([1, 2, 3, 1, 2, 3]);
    expect(() => parseCifarRecords(record.subarray(0, 3000), cifar10Archive, 0, 'cut.bin')).toThrow('cut.bin: 3000 bytes is not a whole number of 3073-byte records');
    record[0] = 12;
    expect(() => parseCifarRecords(record, cifar10Archive, 0, 'bad.bin')).toThrow('bad.bin: record 0 has label 12, out of range for 10 classes');
  });

  it('download with progress, check the MD5, extract, and then load from the cache without network', async () => {
    const cacheDir = join(scratch, 'cache-ok');
    const progress: number[] = [];
    const spec: CifarArchive = { ...cifar10Archive, url: `${base}/cifar-10-binary.tar.gz` };
    expectFixture(await loadCifar(spec, { cacheDir, md5: fixture.md5, onProgress: (phase, done) => phase === 'download' && progress.push(done) }));
    expect(progress[progress.length - 1]).toBe(fixture.archive.length);
    const before = requests.length;
    expectFixture(await loadCifar({ ...spec, url: 'http://127.0.0.1:9/unreachable' }, { cacheDir, md5: fixture.md5 }));
    expect(requests.length).toBe(before);
  });

  it('resume an interrupted download with a range request, and never leave a file that looks complete', async () => {
    const cacheDir = join(scratch, 'cache-resume');
    const spec: CifarArchive = { ...cifar10Archive, url: `${base}/cifar-10-binary.tar.gz` };
    cutAfter.set('/cifar-10-binary.tar.gz', 1000);
    await expect(loadCifar(spec, { cacheDir, md5: fixture.md5 })).rejects.toThrow(/broke off after 1000 of \d+ bytes.*run again to resume it/);
    expect(readdirSync(cacheDir)).toEqual(['cifar-10-binary.tar.gz.part']);
    expectFixture(await loadCifar(spec, { cacheDir, md5: fixture.md5 }));
    expect(requests[requests.length - 1].range).toBe('bytes=1000-');
  });

  it('say how to go on offline when the server cannot be reached', async () => {
    // A port that was just free: connecting to it is refused, as an unreachable host's would fail.
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`;
    const cacheDir = join(scratch, 'cache-offline');
    const failure = loadCifar({ ...cifar10Archive, url }, { cacheDir });
    await expect(failure).rejects.toBeInstanceOf(DownloadUnreachableError);
    await expect(failure).rejects.toMatchObject({
      url,
      reason: `connect ECONNREFUSED 127.0.0.1:${port}`,
      message: `cannot download ${url}: connect ECONNREFUSED 127.0.0.1:${port}; without network, pass a copy of cifar-10-binary.tar.gz as the archive option (or its extracted folder as folder), or put it into ${cacheDir}`,
    });
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('discard a download whose checksum is wrong', async () => {
    const cacheDir = join(scratch, 'cache-md5');
    const spec: CifarArchive = { ...cifar10Archive, url: `${base}/cifar-10-binary.tar.gz` };
    await expect(loadCifar(spec, { cacheDir, md5: '0'.repeat(32) })).rejects.toThrow(
      `${base}/cifar-10-binary.tar.gz: checksum mismatch (MD5 ${fixture.md5}, expected ${'0'.repeat(32)}); the download was discarded, run again to fetch it afresh`,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('report a corrupt archive and cache nothing from it', async () => {
    const cacheDir = join(scratch, 'cache-corrupt');
    const archive = join(scratch, 'corrupt.tar.gz');
    writeFileSync(archive, fixture.archive.subarray(0, 700));
    await expect(loadCifar(cifar10Archive, { cacheDir, archive })).rejects.toThrow(new RegExp(`${archive}: .*(corrupt or truncated archive|truncated tar archive)`));
    expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([]);
  });

  it('use an archive the user already has, without downloading', async () => {
    const archive = join(scratch, 'mine.tar.gz');
    writeFileSync(archive, fixture.archive);
    const before = requests.length;
    expectFixture(await loadCifar(cifar10Archive, { cacheDir: join(scratch, 'cache-user'), archive }));
    expect(requests.length).toBe(before);
  });

  it('read CIFAR-100 with fine or coarse labels', async () => {
    const images = randomImages(3);
    const labels = [[4, 72], [19, 99], [0, 0]];
    const bytes = writeCifarRecords(images, labels, 2);
    const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n');
    const coarse = Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n');
    const archive = join(scratch, 'c100.tar.gz');
    const enc = (s: string) => new TextEncoder().encode(s);
    writeFileSync(archive, gzipSync(writeTar([
      { name: 'cifar-100-binary/train.bin', data: bytes },
      { name: 'cifar-100-binary/test.bin', data: bytes },
      { name: 'cifar-100-binary/fine_label_names.txt', data: enc(fine) },
      { name: 'cifar-100-binary/coarse_label_names.txt', data: enc(coarse) },
    ])));
    const f = await loadCifar(cifar100Archive, { cacheDir: join(scratch, 'c100'), archive });
    expect(Array.from(f.train.labels)).toEqual([72, 99, 0]);
    expect(f.train.classNames[99]).toBe('fine99');
    const c = await loadCifar(cifar100Archive, { cacheDir: join(scratch, 'c100'), archive, labels: 'coarse' });
    expect(Array.from(c.test.labels)).toEqual([4, 19, 0]);
    expect(c.test.classNames).toHaveLength(20);
  });
});

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
