import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@pyramid/core';
import type { ImageDataset } from '@pyramid/datasets';
import { architectureConfig, resolveArchitecture } from '@pyramid/pyramidnet';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RECIPES } from './recipes';
import { RUN_FORMAT, type RunConfig } from './run-config';
import { train } from './trainer';

// The trainer as a program without vega gets it: the plotting packages' import fails as Node's does.
vi.mock('./plots', async (importOriginal) => {
  const plots = await importOriginal<typeof import('./plots')>();
  const withoutVega = async (specifier: string) => {
    if (specifier === 'vega') throw Object.assign(new Error("Cannot find package 'vega' imported from /srv/app/node_modules/@pyramid/train/dist/node.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    return import(specifier);
  };
  return { ...plots, loadPlotting: () => plots.loadPlotting(withoutVega) };
});

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-train-plots-'));
beforeAll(async () => {
  await useBackend('cpu', { threads: 1 });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const data: ImageDataset = {
  name: 'toy',
  shape: { height: 8, width: 8, channels: 1 },
  classNames: ['a', 'b'],
  images: new Uint8Array(32 * 64).map((_, i) => (i * 37) % 256),
  labels: Int32Array.from({ length: 32 }, (_, i) => i % 2),
  normalization: { mean: [127], std: [74], scale: 1 },
};
const config: RunConfig = {
  format: RUN_FORMAT,
  version: 1,
  preset: null,
  architecture: architectureConfig(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 4, classes: 2, input: { height: 8, width: 8, channels: 1 } })),
  data: { name: 'toy', source: 'toy', options: {}, trainImages: 32, testImages: 0, classNames: data.classNames, normalization: data.normalization },
  recipeName: 'quick',
  recipe: { ...RECIPES.quick, epochs: 1, batchSize: 16 },
  seed: 1,
  evalEvery: 1,
  checkpointEvery: 0,
};

describe('train without the plotting packages', () => {
  it('fails before it writes anything, saying what to install', async () => {
    const runDir = join(scratch, 'plots-on');
    await expect(train({ runDir, config, resume: false, train: data })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: 'plots need the packages vega, vega-lite and @resvg/resvg-js (not installed: vega); install them with: npm install vega vega-lite @resvg/resvg-js, or train with plots: false',
    });
    expect(existsSync(runDir)).toBe(false);
  });

  it('trains with plots: false', async () => {
    const runDir = join(scratch, 'plots-off');
    const outcome = await train({ runDir, config, resume: false, train: data, plots: false });
    expect(outcome.status).toBe('finished');
    expect(existsSync(join(runDir, 'checkpoints', 'last'))).toBe(true);
    expect(existsSync(join(runDir, 'plots'))).toBe(false);
    outcome.model.dispose();
  });
});
