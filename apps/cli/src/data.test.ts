import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cifar10Archive } from '@pyramid/datasets';
import { afterEach, describe, expect, it } from 'vitest';
import { cifarLoader } from './data';

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released): connecting is refused, as offline. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const savedDataDir = process.env.PYRAMID_DATA_DIR;
afterEach(() => {
  if (savedDataDir === undefined) delete process.env.PYRAMID_DATA_DIR;
  else process.env.PYRAMID_DATA_DIR = savedDataDir;
});

describe('--data cifar10 without network', () => {
  it('says to give the archive with --data-archive, or where the cache wants it', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'pyramid-cli-offline-'));
    try {
      process.env.PYRAMID_DATA_DIR = cache;
      const port = await closedPort();
      const url = `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`;
      await expect(cifarLoader({ ...cifar10Archive, url })({ quiet: true })).rejects.toMatchObject({
        code: 'E_DATA',
        message:
          `cannot download ${url}: connect ECONNREFUSED 127.0.0.1:${port}; without network, give a copy of cifar-10-binary.tar.gz ` +
          `with --data-archive <file> (or its extracted folder with --data-dir <dir>), or put it into ${cache}`,
      });
      expect(readdirSync(cache)).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
