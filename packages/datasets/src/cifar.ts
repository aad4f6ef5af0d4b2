import { existsSync } from 'node:fs';
import { readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DATASETS, DataError } from '@pyramid/core';
import { writeFolderAtomically } from '@pyramid/core/node';
import { fileChunks, readTar } from './archive/tar';
import { type ImageDataset, channelStatistics, validateDataset } from './dataset';
import { DownloadUnreachableError, dataCacheDir, download, md5OfFile } from './download';

/** An official CIFAR archive: where it is published, its MD5 and what it holds. */
export interface CifarArchive {
  name: 'cifar10' | 'cifar100';
  url: string;
  md5: string;
  file: string;
  /** The folder the archive extracts to. */
  folder: string;
  train: string[];
  test: string;
  /** Label bytes before each image: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  classes: number;
}

// As published on https://www.cs.toronto.edu/~kriz/cifar.html (binary versions).
export const cifar10Archive: CifarArchive = {
  name: 'cifar10',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  file: 'cifar-10-binary.tar.gz',
  folder: 'cifar-10-batches-bin',
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: 'test_batch.bin',
  labelBytes: 1,
  classes: 10,
};

export const cifar100Archive: CifarArchive = {
  name: 'cifar100',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  md5: '03b5dce01913d631647c71ecec9e9cb8',
  file: 'cifar-100-binary.tar.gz',
  folder: 'cifar-100-binary',
  train: ['train.bin'],
  test: 'test.bin',
  labelBytes: 2,
  classes: 100,
};

const PIXELS = 32 * 32 * 3;

export interface CifarOptions {
  /** The cache folder (see dataCacheDir). */
  cacheDir?: string;
  /** An archive the user already has: used as is, nothing is downloaded. */
  archive?: string;
  /** An extracted folder the user already has (the one holding the .bin files). */
  folder?: string;
  /** Allow downloading when nothing is cached (default true). */
  download?: boolean;
  /** Overrides the published address and checksum (mirrors, tests). */
  url?: string;
  md5?: string;
  /** CIFAR-100: 'fine' (100 classes, default) or 'coarse' (20 superclasses). */
  labels?: 'fine' | 'coarse';
  onProgress?: (phase: 'download' | 'extract', done: number, total: number | null) => void;
}

/**
 * Parses CIFAR binary records: label byte(s), then 1024 red, 1024 green and 1024 blue bytes in
 * row-major order. Pixels come out NHWC.
 */
export function parseCifarRecords(bytes: Uint8Array, spec: CifarArchive, labelIndex: number, source: string): { images: Uint8Array; labels: Int32Array } {
  const record = spec.labelBytes + PIXELS;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new DataError(`${source}: ${bytes.length} bytes is not a whole number of ${record}-byte records (truncated or not a CIFAR file)`);
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  const limit = spec.labelBytes === 2 && labelIndex === 0 ? 20 : spec.classes;
  for (let i = 0; i < n; i++) {
    const base = i * record;
    const label = bytes[base + labelIndex];
    if (label >= limit) throw new DataError(`${source}: record ${i} has label ${label}, out of range for ${limit} classes`);
    labels[i] = label;
    const src = base + spec.labelBytes;
    const dst = i * PIXELS;
    for (let p = 0; p < 1024; p++) {
      images[dst + 3 * p] = bytes[src + p];
      images[dst + 3 * p + 1] = bytes[src + 1024 + p];
      images[dst + 3 * p + 2] = bytes[src + 2048 + p];
    }
  }
  return { images, labels };
}

async function classNames(folder: string, spec: CifarArchive, labels: 'fine' | 'coarse'): Promise<string[]> {
  const file = spec.name === 'cifar10' ? 'batches.meta.txt' : labels === 'fine' ? 'fine_label_names.txt' : 'coarse_label_names.txt';
  const path = join(folder, file);
  if (!existsSync(path)) {
    if (spec.name === 'cifar10') return [...DATASETS.cifar10.classNames!];
    throw new DataError(`${path}: missing (class names of CIFAR-100)`);
  }
  const names = (await readFile(path, 'utf8')).split('\n').map((s) => s.trim()).filter(Boolean);
  const expected = labels === 'coarse' ? 20 : DATASETS[spec.name].classes;
  if (names.length !== expected) throw new DataError(`${path}: ${names.length} class names, expected ${expected}`);
  return names;
}

/**
 * Extracts the archive's files into `<cacheDir>/<folder>` through a temporary sibling folder, so
 * that a crash never leaves a folder that looks complete.
 */
async function extract(archive: string, cacheDir: string, spec: CifarArchive, onProgress?: CifarOptions['onProgress']): Promise<string> {
  const target = join(cacheDir, spec.folder);
  if (existsSync(target)) return target;
  let files = 0;
  const newCache = !existsSync(cacheDir);
  try {
    await writeFolderAtomically(target, async (staging) => {
      for await (const entry of readTar(fileChunks(archive), archive)) {
        if (entry.type !== 'file') continue;
        const name = basename(entry.name);
        if (!name.endsWith('.bin') && !name.endsWith('.txt')) continue;
        await writeFile(join(staging, name), entry.data);
        onProgress?.('extract', ++files, null);
      }
      for (const f of [...spec.train, spec.test]) {
        if (!existsSync(join(staging, f))) throw new DataError(`${archive}: the archive has no ${f} (not a ${spec.name} binary archive?)`);
      }
    });
  } catch (error) {
    // A failed extraction caches nothing, not even the empty folder made for it.
    if (newCache) await rmdir(cacheDir).catch(() => undefined);
    throw error;
  }
  return target;
}

async function loadSplit(folder: string, files: string[], spec: CifarArchive, labelIndex: number) {
  const parts = [];
  for (const f of files) {
    const path = join(folder, f);
    if (!existsSync(path)) throw new DataError(`${path}: missing (is ${folder} an extracted ${spec.name} binary archive?)`);
    parts.push(parseCifarRecords(new Uint8Array(await readFile(path)), spec, labelIndex, path));
  }
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return { images, labels };
}

/**
 * CIFAR-10 or CIFAR-100 as train and test datasets. Finds, in order: a folder the user gives, an
 * archive the user gives, the extracted cache, the cached archive; otherwise downloads the archive
 * from its canonical address, checks its MD5, extracts it and caches both.
 */
export async function loadCifar(spec: CifarArchive, options: CifarOptions = {}): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const cacheDir = dataCacheDir(options.cacheDir);
  let folder: string;
  if (options.folder) {
    folder = options.folder;
  } else if (options.archive) {
    if (!existsSync(options.archive)) throw new DataError(`${options.archive}: no such file`);
    const { size, mtimeMs } = await stat(options.archive);
    const key = `${spec.name}-from-${basename(options.archive)}-${size}-${Math.round(mtimeMs)}`;
    folder = await extract(options.archive, join(cacheDir, key), spec, options.onProgress);
  } else if (existsSync(join(cacheDir, spec.folder))) {
    folder = join(cacheDir, spec.folder);
  } else {
    const archive = join(cacheDir, spec.file);
    if (!existsSync(archive)) {
      if (options.download === false) throw new DataError(`${spec.name} is not in ${cacheDir} and downloading is off`);
      try {
        await download({ url: options.url ?? spec.url, destination: archive, md5: options.md5 ?? spec.md5, onProgress: (r, t) => options.onProgress?.('download', r, t) });
      } catch (error) {
        if (!(error instanceof DownloadUnreachableError)) throw error;
        const offline = `; without network, pass a copy of ${spec.file} as the archive option (or its extracted folder as folder), or put it into ${cacheDir}`;
        throw new DownloadUnreachableError(error.url, error.reason, offline, { cause: error.cause });
      }
    } else {
      const md5 = await md5OfFile(archive);
      const expected = options.md5 ?? spec.md5;
      if (md5 !== expected) throw new DataError(`${archive}: checksum mismatch (MD5 ${md5}, expected ${expected}); delete it to download it again`);
    }
    folder = await extract(archive, cacheDir, spec, options.onProgress);
  }
  const labels = options.labels ?? 'fine';
  const labelIndex = spec.labelBytes === 2 && labels === 'fine' ? 1 : 0;
  const names = await classNames(folder, spec, labels);
  const make = async (part: 'train' | 'test') => {
    const { images, labels: y } = await loadSplit(folder, part === 'train' ? spec.train : [spec.test], spec, labelIndex);
    return validateDataset({
      name: `${spec.name}/${part}`,
      shape: { height: 32, width: 32, channels: 3 },
      classNames: names,
      images,
      labels: y,
      normalization: DATASETS[spec.name].normalization,
      statistics: channelStatistics(images, 3),
    });
  };
  return { train: await make('train'), test: await make('test') };
}

/** Writes records in the CIFAR binary format (tests and fixtures). */
export function writeCifarRecords(images: Uint8Array, labels: number[][], labelBytes: 1 | 2): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(n * (labelBytes + PIXELS));
  for (let i = 0; i < n; i++) {
    const base = i * (labelBytes + PIXELS);
    labels[i].forEach((l, k) => (out[base + k] = l));
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[base + labelBytes + c * 1024 + p] = images[i * PIXELS + 3 * p + c];
    }
  }
  return out;
}
