import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Importer, loadPlotting, writePlots } from './plots';
import type { MetricRecord } from './run-folder';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-plots-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('writePlots', () => {
  it('draws loss, accuracy, error and learning rate per epoch as SVG and PNG', async () => {
    const records: MetricRecord[] = [0, 1, 2].map((epoch) => ({
      kind: 'epoch',
      epoch,
      step: 10 * (epoch + 1),
      trainLoss: 2 / (epoch + 1),
      trainAccuracy: 0.3 * (epoch + 1),
      testLoss: 2.1 / (epoch + 1),
      top1: 0.28 * (epoch + 1),
      top1Error: 100 - 28 * (epoch + 1),
      top5Error: 10 / (epoch + 1),
      lr: 0.1 * 0.1 ** epoch,
    }));
    const files = await writePlots(scratch, records);
    expect(files.map((f) => f.slice(scratch.length + 1)).sort()).toEqual(
      ['plots/accuracy.png', 'plots/accuracy.svg', 'plots/error.png', 'plots/error.svg', 'plots/loss.png', 'plots/loss.svg', 'plots/lr.png', 'plots/lr.svg'],
    );
    const svg = readFileSync(join(scratch, 'plots', 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Loss per epoch');
    const png = readFileSync(join(scratch, 'plots', 'loss.png'));
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // PNG IHDR: width and height, big-endian at bytes 16 and 20; drawn at twice the SVG's size.
    expect(png.readUInt32BE(16)).toBeGreaterThan(1000);
  });

  it('draws from the CommonJS build too (vega is an ES module with top-level await, which require() cannot load)', () => {
    const cjsEntry = fileURLToPath(new URL('../dist/node.cjs', import.meta.url));
    const runDir = join(scratch, 'from-require');
    const script = `require(${JSON.stringify(cjsEntry)})
      .writePlots(${JSON.stringify(runDir)}, [{ kind: 'epoch', epoch: 0, step: 1, trainLoss: 1, lr: 0.1 }])
      .then((files) => process.stdout.write(JSON.stringify(files.map((f) => f.slice(${JSON.stringify(runDir.length + 1)})))));`;
    // One epoch with a loss and a learning rate: the loss and learning-rate charts.
    expect(JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })).sort()).toEqual(['plots/loss.png', 'plots/loss.svg', 'plots/lr.png', 'plots/lr.svg']);
  });

  it('draws nothing before the first epoch ends', async () => {
    expect(await writePlots(join(scratch, 'none'), [{ kind: 'step', step: 1, epoch: 0 }])).toEqual([]);
  });
});

/** Imports as Node does, except that `missing` packages are not installed (Node's error for that). */
function without(...missing: string[]): Importer {
  return async (specifier) => {
    if (missing.includes(specifier)) throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /srv/app/node_modules/@pyramid/train/dist/node.js`), { code: 'ERR_MODULE_NOT_FOUND' });
    return import(specifier);
  };
}

describe('the plotting packages, optional peer dependencies', () => {
  it('names the missing ones and the command that installs them', async () => {
    await expect(loadPlotting(without('vega-lite', '@resvg/resvg-js'))).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: 'plots need the packages vega, vega-lite and @resvg/resvg-js (not installed: vega-lite, @resvg/resvg-js); install them with: npm install vega vega-lite @resvg/resvg-js, or train with plots: false',
    });
    await expect(loadPlotting(without('vega'))).rejects.toMatchObject({
      message: 'plots need the packages vega, vega-lite and @resvg/resvg-js (not installed: vega); install them with: npm install vega vega-lite @resvg/resvg-js, or train with plots: false',
    });
  });

  it('says when an installed one fails to load, without blaming a missing install', async () => {
    const broken: Importer = async (specifier) => {
      if (specifier === '@resvg/resvg-js') throw new Error('/srv/app/node_modules/@resvg/resvg-js-linux-x64-gnu/resvgjs.node: invalid ELF header');
      return import(specifier);
    };
    await expect(loadPlotting(broken)).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: 'plots: package @resvg/resvg-js failed to load: /srv/app/node_modules/@resvg/resvg-js-linux-x64-gnu/resvgjs.node: invalid ELF header',
    });
  });

  it('leaves no plots folder behind when they are missing', async () => {
    const runDir = join(scratch, 'missing');
    await expect(writePlots(runDir, [{ kind: 'epoch', epoch: 0, step: 1, trainLoss: 1, lr: 0.1 } as MetricRecord], without('vega'))).rejects.toThrow(/npm install vega vega-lite @resvg\/resvg-js/);
    expect(existsSync(join(runDir, 'plots'))).toBe(false);
  });
});
