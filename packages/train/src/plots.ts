import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, isMissingModule } from '@pyramid/core';
import { writeFileAtomically } from '@pyramid/core/node';
import type { MetricRecord } from './run-folder';

/** Loads a package by name; replaced in tests to simulate packages missing. */
export type Importer = (specifier: string) => Promise<unknown>;

/**
 * import() made at run time, which Node resolves from this file as it would a written one. The
 * function's text is a constant; nothing given to it is run.
 */
const importAtRunTime = new Function('specifier', 'return import(specifier)') as Importer;

/**
 * This package's CommonJS build is its ES module build rewritten, which turns the written import()
 * into require(); require() cannot load vega, an ES module with top-level await, and says so with
 * ERR_REQUIRE_ASYNC_MODULE: that build then imports at run time.
 */
const importPackage: Importer = (specifier) =>
  import(/* @vite-ignore */ specifier).catch((error: unknown) => {
    if ((error as { code?: string } | null)?.code === 'ERR_REQUIRE_ASYNC_MODULE') return importAtRunTime(specifier);
    throw error;
  });

/** The plotting packages: optional peer dependencies, installed only by those who want plots (27 MB). */
const PLOTTING_PACKAGES = ['vega', 'vega-lite', '@resvg/resvg-js'] as const;

interface Plotting {
  vega: typeof import('vega');
  vegaLite: typeof import('vega-lite');
  Resvg: typeof import('@resvg/resvg-js').Resvg;
}

/**
 * Imports the plotting packages, or throws one line naming the missing ones and the command that
 * installs them. `train()` calls it before it writes anything, so that a run without them fails
 * at once rather than after its first epoch.
 */
export async function loadPlotting(importer: Importer = importPackage): Promise<Plotting> {
  const loaded = await Promise.all(
    PLOTTING_PACKAGES.map(async (name) => {
      try {
        return await importer(name);
      } catch (error) {
        if (isMissingModule(error, name)) return null;
        throw new ConfigError(`plots: package ${name} failed to load: ${String((error as Error).message).split('\n')[0]}`, { cause: error });
      }
    }),
  );
  const missing = PLOTTING_PACKAGES.filter((_, i) => loaded[i] === null);
  if (missing.length > 0) {
    throw new ConfigError(
      `plots need the packages vega, vega-lite and @resvg/resvg-js (not installed: ${missing.join(', ')}); install them with: npm install ${PLOTTING_PACKAGES.join(' ')}, or train with plots: false`,
    );
  }
  const [vega, vegaLite, resvg] = loaded as [Plotting['vega'], Plotting['vegaLite'], typeof import('@resvg/resvg-js')];
  return { vega, vegaLite, Resvg: resvg.Resvg };
}

type Row = { epoch: number; [series: string]: number };

/** The per-epoch series of a run's metrics, one row per epoch (its last record wins). */
function epochRows(records: MetricRecord[]): Row[] {
  const byEpoch = new Map<number, Row>();
  for (const r of records) if (r.kind === 'epoch') byEpoch.set(r.epoch, r as unknown as Row);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

interface Chart {
  file: string;
  title: string;
  y: string;
  series: [field: string, label: string, scale?: number][];
  log?: boolean;
}

const CHARTS: Chart[] = [
  { file: 'loss', title: 'Loss per epoch', y: 'cross-entropy', series: [['trainLoss', 'train'], ['testLoss', 'test']] },
  { file: 'accuracy', title: 'Top-1 accuracy per epoch', y: 'accuracy (%)', series: [['trainAccuracy', 'train', 100], ['top1', 'test', 100]] },
  { file: 'error', title: 'Top-1 error per epoch (the paper reports errors)', y: 'error (%)', series: [['top1Error', 'test top-1'], ['top5Error', 'test top-5']] },
  { file: 'lr', title: 'Learning rate per epoch', y: 'learning rate', series: [['lr', 'learning rate']], log: true },
];

/**
 * Draws the run's curves with Vega-Lite as SVG, and as PNG through resvg (both from the npm
 * registry, optional peer dependencies: see `loadPlotting`), into `<runDir>/plots/`. Each file is
 * written atomically.
 */
export async function writePlots(runDir: string, records: MetricRecord[], importer: Importer = importPackage): Promise<string[]> {
  const rows = epochRows(records);
  if (rows.length === 0) return [];
  const { vega, vegaLite, Resvg } = await loadPlotting(importer);
  const dir = join(runDir, 'plots');
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const chart of CHARTS) {
    const values = rows.flatMap((row) =>
      chart.series.filter(([field]) => typeof row[field] === 'number').map(([field, label, scale]) => ({ epoch: row.epoch + 1, series: label, value: row[field] * (scale ?? 1) })),
    );
    if (values.length === 0) continue;
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: chart.title,
      width: 520,
      height: 300,
      background: 'white',
      data: { values },
      mark: { type: 'line', point: rows.length <= 60 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', title: chart.y, scale: chart.log ? { type: 'log' } : { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    };
    const view = new vega.View(vega.parse(vegaLite.compile(spec as never).spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans' } }).render().asPng();
    for (const [ext, content] of [['svg', svg], ['png', png]] as const) {
      const file = join(dir, `${chart.file}.${ext}`);
      await writeFileAtomically(file, content);
      written.push(file);
    }
  }
  return written;
}
