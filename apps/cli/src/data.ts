import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DATASETS, DATASET_NAMES, type DatasetName, IMAGE_FOLDER_DEFAULTS, Rng } from '@pyramid/core';
import {
  type CifarArchive,
  DEBIAN_FASHION_MNIST_DIR,
  type ImageDataset,
  type TrainingData,
  cifar100Archive,
  imagenetDataset,
  cifar10Archive,
  archiveSplits,
  loadCifar,
  loadIdxDataset,
  loadImageFolder,
  mnistSample,
  stratifiedSplit,
} from '@pyramid/datasets';
import { UsageError } from './output';

export interface LoadedData {
  /** A readable name for reports. */
  name: string;
  /** What loads the same data again: the --data value and the options that shape it. */
  source: string;
  options: DataOptions;
  train: TrainingData;
  test: TrainingData;
}

export interface DataOptions {
  /** mnist-sample and single-folder data: share held out for testing. */
  testFraction?: number;
  /** Where the dataset's files are (cifar: extracted folder; mnist, fashion-mnist: idx folder). */
  dataDir?: string;
  /** A CIFAR archive the user already has. */
  archive?: string;
  /** Image folders: the model's input size; images of other sizes are resized. */
  size?: { height: number; width: number; channels: 1 | 3 };
  /** Image folders: skip undecodable images with a warning. */
  skipBad?: boolean;
  /** Image folders: normalise with these constants instead of the images' own statistics. */
  normalization?: 'cifar' | 'imagenet' | 'measured';
  /** ImageNet with a flat val/ folder: its label file. */
  valLabels?: string;
  quiet?: boolean;
}

/** The --data names: the dataset table's, and the small MNIST sample shipped with the project. */
export const DATA_NAMES = ['mnist-sample', ...DATASET_NAMES] as const;

function progress(quiet: boolean | undefined, label: string) {
  const tty = Boolean(process.stderr.isTTY) && !quiet;
  let last = 0;
  return (done: number, total: number | null) => {
    if (!tty || (Date.now() - last < 100 && done !== total)) return;
    last = Date.now();
    const amount = total ? `${((100 * done) / total).toFixed(1)}% of ${(total / 1e6).toFixed(1)} MB` : `${(done / 1e6).toFixed(1)} MB`;
    process.stderr.write(`\r${label} ${amount}\x1b[K`);
    if (done === total) process.stderr.write('\r\x1b[K');
  };
}

function holdOut(data: ImageDataset, fraction: number, name: string) {
  if (!(fraction > 0 && fraction < 1)) throw new UsageError(`--test-fraction must be between 0 and 1, got ${fraction}`);
  return stratifiedSplit(data, fraction, Rng.fromSeed(0).fork(`${name}-split`));
}

type Loader = (options: DataOptions) => Promise<{ train: TrainingData; test: TrainingData }>;

function idxLoader(name: 'mnist' | 'fashion-mnist'): Loader {
  return async (options) => {
    const dir = options.dataDir ?? (name === 'fashion-mnist' ? DEBIAN_FASHION_MNIST_DIR : undefined);
    if (!dir) throw new UsageError(`--data ${name} needs --data-dir, the folder of the four idx files (train-images-idx3-ubyte, ...)`);
    if (!existsSync(dir)) {
      const hint = name === 'fashion-mnist' && dir === DEBIAN_FASHION_MNIST_DIR ? ' (on Debian: apt-get install dataset-fashion-mnist; or give --data-dir)' : '';
      throw new UsageError(`${dir}: no such folder${hint}`);
    }
    return loadIdxDataset(dir, name);
  };
}

function cifarLoader(archive: CifarArchive): Loader {
  return (options) =>
    loadCifar(archive, { folder: options.dataDir, archive: options.archive, onProgress: (phase, done, total) => phase === 'download' && progress(options.quiet, `downloading ${archive.file}`)(done, total) });
}

/** How each dataset of the table is read. */
const LOADERS: Record<DatasetName, Loader> = {
  cifar10: cifarLoader(cifar10Archive),
  cifar100: cifarLoader(cifar100Archive),
  imagenet: async (options) => {
    if (!options.dataDir) throw new UsageError('--data imagenet needs --data-dir, the folder holding train/ and val/');
    const { shape, normalization } = DATASETS.imagenet;
    const size = options.size ?? { ...shape, channels: 3 as const };
    const train = await imagenetDataset(options.dataDir, 'train', size, normalization);
    const test = await imagenetDataset(options.dataDir, 'val', size, normalization, { labelsFile: options.valLabels, classNames: train.classNames });
    return { train, test };
  },
  mnist: idxLoader('mnist'),
  'fashion-mnist': idxLoader('fashion-mnist'),
};

/**
 * Resolves --data: a dataset name, or a folder or tar archive of images (`<class>/<image>`, with
 * `train/` and `test/` or `val/` splits when present; a single split gets a test share held out).
 */
export async function loadData(spec: string, options: DataOptions = {}): Promise<LoadedData> {
  const warn = (message: string) => !options.quiet && process.stderr.write(`warning: ${message}\n`);
  const base = { source: spec, options: { ...options, quiet: undefined } };
  if (spec === 'mnist-sample') {
    const fraction = options.testFraction ?? 0.2;
    const { train, test } = holdOut(await mnistSample(), fraction, 'mnist-sample');
    return { name: 'mnist-sample', ...base, options: { testFraction: fraction }, train, test };
  }
  if (Object.hasOwn(LOADERS, spec)) return { name: spec, ...base, ...(await LOADERS[spec as DatasetName](options)) };
  if (!existsSync(spec)) throw new UsageError(`--data '${spec}' is neither a dataset (${DATA_NAMES.join(', ')}) nor an existing folder or archive`);
  const which = options.normalization ?? IMAGE_FOLDER_DEFAULTS.normalization;
  const normalization = which === 'measured' ? undefined : DATASETS[which === 'cifar' ? 'cifar10' : 'imagenet'].normalization;
  const folderOptions = { ...options.size, skipBad: options.skipBad, onWarning: warn, normalization, onProgress: progress(options.quiet, 'decoding images') };
  const isArchive = statSync(spec).isFile();
  const splits = isArchive ? await archiveSplits(spec) : ['train', 'test', 'val'].filter((s) => existsSync(join(spec, s)) && statSync(join(spec, s)).isDirectory());
  if (splits.includes('train') && (splits.includes('test') || splits.includes('val'))) {
    const testName = splits.includes('test') ? 'test' : 'val';
    const train = await loadImageFolder(spec, { ...folderOptions, prefix: 'train', name: `${spec}:train` });
    // The test split takes the training split's size, class list and normalisation.
    const test = await loadImageFolder(spec, {
      ...folderOptions,
      prefix: testName,
      name: `${spec}:${testName}`,
      height: train.shape.height,
      width: train.shape.width,
      classNames: train.classNames,
      normalization: train.normalization,
    });
    return { name: spec, ...base, train, test };
  }
  const fraction = options.testFraction ?? 0.1;
  const all = await loadImageFolder(spec, { ...folderOptions, name: spec });
  return { name: spec, ...base, options: { ...base.options, testFraction: fraction }, ...holdOut(all, fraction, spec) };
}
