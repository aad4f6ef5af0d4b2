import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DATASETS, DATASET_NAMES, DataError, type DatasetName, IMAGE_FOLDER_DEFAULTS, type Preprocessing, Rng } from '@pyramid/core';
import {
  type CifarArchive,
  DEBIAN_FASHION_MNIST_DIR,
  DownloadUnreachableError,
  type ImageDataset,
  type TrainingData,
  cifar100Archive,
  imagenetDataset,
  cifar10Archive,
  archiveSplits,
  dataCacheDir,
  inspectImageFolder,
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
  /** How evaluation and prediction bring images of another size to the model's. */
  preprocessing: Preprocessing;
}

export interface DataOptions {
  /** mnist-sample and single-folder data: share held out for testing. */
  testFraction?: number;
  /** Where the dataset's files are (cifar: extracted folder; mnist, fashion-mnist: idx folder). */
  dataDir?: string;
  /** A CIFAR archive the user already has. */
  archive?: string;
  /** The model's input size; image folders' images of other sizes are brought to it by `preprocessing`. */
  size?: { height: number; width: number; channels: 1 | 3 };
  /** Whether `size` was chosen for these images (--input, a checkpoint), not a dataset's default: a folder of another size is then an error. */
  sizeChosen?: boolean;
  /** Image folders: how images of another size become the model's ('stretch', or by default the shorter side to the larger model side and the centre). */
  preprocessing?: Preprocessing | Preprocessing['kind'];
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

/** CIFAR from --data-dir, --data-archive, the cache or a download; exported for tests, which point `archive.url` elsewhere. */
export function cifarLoader(archive: CifarArchive): Loader {
  return async (options) => {
    try {
      return await loadCifar(archive, { folder: options.dataDir, archive: options.archive, onProgress: (phase, done, total) => phase === 'download' && progress(options.quiet, `downloading ${archive.file}`)(done, total) });
    } catch (error) {
      if (!(error instanceof DownloadUnreachableError)) throw error;
      throw new DataError(
        `cannot download ${error.url}: ${error.reason}; without network, give a copy of ${archive.file} with --data-archive <file> (or its extracted folder with --data-dir <dir>), or put it into ${dataCacheDir()}`,
        { cause: error },
      );
    }
  };
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
    const val = await imagenetDataset(options.dataDir, 'val', size, normalization, { labelsFile: options.valLabels, classNames: train.classNames });
    // Evaluating a checkpoint: its recorded preprocessing; else the paper's (resize 256, centre 224, scaled).
    const test = typeof options.preprocessing === 'object' ? { ...val, preprocessing: options.preprocessing } : val;
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
    return { name: 'mnist-sample', ...base, options: { testFraction: fraction }, train, test, preprocessing: DATASETS.mnist.preprocessing };
  }
  if (Object.hasOwn(LOADERS, spec)) {
    const dataset = DATASETS[spec as DatasetName];
    // The table's preprocessing, its resize scaled with the model's size (ImageNet at 112: 128, centre 112).
    const side = options.size ? Math.max(options.size.height, options.size.width) : Math.max(dataset.shape.height, dataset.shape.width);
    const preprocessing: Preprocessing =
      dataset.preprocessing.kind === 'center-crop' ? { kind: 'center-crop', resize: Math.round((dataset.preprocessing.resize * side) / Math.max(dataset.shape.height, dataset.shape.width)) } : dataset.preprocessing;
    return { name: spec, ...base, ...(await LOADERS[spec as DatasetName](options)), preprocessing };
  }
  if (!existsSync(spec)) throw new UsageError(`--data '${spec}' is neither a dataset (${DATA_NAMES.join(', ')}) nor an existing folder or archive`);
  const which = options.normalization ?? IMAGE_FOLDER_DEFAULTS.normalization;
  const normalization = which === 'measured' ? undefined : DATASETS[which === 'cifar' ? 'cifar10' : 'imagenet'].normalization;
  const isArchive = statSync(spec).isFile();
  const splits = isArchive ? await archiveSplits(spec) : ['train', 'test', 'val'].filter((s) => existsSync(join(spec, s)) && statSync(join(spec, s)).isDirectory());
  const hasSplits = splits.includes('train') && (splits.includes('test') || splits.includes('val'));
  const found = await inspectImageFolder(spec, { prefix: hasSplits ? 'train' : undefined });
  const colour = (c: number) => (c === 1 ? 'greyscale' : 'colour');
  const size = options.size ?? { height: found.height, width: found.width, channels: found.channels };
  const preprocessing: Preprocessing =
    typeof options.preprocessing === 'object' ? options.preprocessing : options.preprocessing === 'stretch' ? { kind: 'stretch' } : { kind: 'center-crop', resize: Math.max(size.height, size.width) };
  const sameSize = found.height === size.height && found.width === size.width;
  if (!options.quiet) {
    const how = sameSize ? '' : preprocessing.kind === 'stretch' ? `, stretched to ${size.height}x${size.width}` : `, shorter side resized to ${preprocessing.resize} and centre-cropped to ${size.height}x${size.width}`;
    process.stderr.write(`${spec}: ${found.images} images in ${found.classNames.length} classes, ${colour(found.channels)} ${found.height}x${found.width} (the first, ${found.first})${how}\n`);
  }
  if (found.channels !== size.channels) {
    throw new UsageError(
      `${spec} holds ${colour(found.channels)} images (${found.first} is ${found.height}x${found.width}x${found.channels}) but the model takes ${size.height}x${size.width}x${size.channels}: ` +
        (options.sizeChosen ? `use a model with ${found.channels}-channel input` : `pass --input ${found.height}x${found.width}x${found.channels}`),
    );
  }
  if (!sameSize && !options.sizeChosen) {
    throw new UsageError(`${spec} holds ${found.height}x${found.width} images (${found.first}) but the model takes ${size.height}x${size.width}: pass --input ${found.height}x${found.width}x${found.channels}, or --input ${size.height}x${size.width}x${size.channels} to resize them`);
  }
  const folderOptions = { ...size, preprocessing, skipBad: options.skipBad, onWarning: warn, normalization, onProgress: progress(options.quiet, 'decoding images') };
  if (hasSplits) {
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
    return { name: spec, ...base, train, test, preprocessing };
  }
  const fraction = options.testFraction ?? 0.1;
  const all = await loadImageFolder(spec, { ...folderOptions, name: spec });
  return { name: spec, ...base, options: { ...base.options, testFraction: fraction }, ...holdOut(all, fraction, spec), preprocessing };
}
