import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataError, type ImageShape, type Normalization, type Preprocessing, type Rng } from '@pyramid/core';
import type { Batch } from './batches';
import { normalizeInto } from './batches';
import { type ImageFile, listImageFolder } from './image-folder';
import { DecodePool } from './image/pool';
import { type TransformSpec, UNIFORMS_PER_IMAGE } from './image/transforms';

/**
 * A dataset of image files read and decoded batch by batch (ImageNet does not fit in memory):
 * each image is decoded and transformed to `shape` on the decoding threads while the previous
 * batch trains.
 */
export interface ImageFileDataset {
  name: string;
  classNames: string[];
  files: ImageFile[];
  /** The size batches come out at. */
  shape: ImageShape;
  normalization: Normalization;
  /** How evaluation brings images to `shape`; default: ImageNet's resize 256, centre 224, scaled to the size. */
  preprocessing?: Preprocessing;
}

export interface StreamOptions {
  batchSize: number;
  transform: TransformSpec;
  /** Shuffles with this stream; in file order without it. */
  rng?: Rng;
  dropLast?: boolean;
  skip?: number;
  /** The random stream of batch `index`; image i of the batch draws its uniforms from it in turn. */
  transformRng?: (index: number) => Rng;
  normalization?: Normalization;
  pool: DecodePool;
  /** Batches decoded ahead of the one being consumed. */
  prefetch?: number;
  /** Skip images that fail to decode (the batch comes out smaller) instead of failing. */
  skipBad?: boolean;
  onWarning?: (message: string) => void;
}

export async function* streamBatches(dataset: ImageFileDataset, options: StreamOptions): AsyncGenerator<Batch> {
  const n = dataset.files.length;
  const order = options.rng ? options.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const { batchSize, transform, pool } = options;
  const { height, width, channels } = dataset.shape;
  const pixels = height * width * channels;
  const normalization = options.normalization ?? dataset.normalization;
  const count = options.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);

  const prepare = async (index: number): Promise<Batch> => {
    const indices = order.slice(index * batchSize, Math.min(n, (index + 1) * batchSize));
    const rng = options.transformRng?.(index);
    const items = await Promise.all(
      Array.from(indices, async (j) => {
        const file = dataset.files[j];
        const uniforms = rng ? Float64Array.from({ length: UNIFORMS_PER_IMAGE }, () => rng.uniform()) : undefined;
        return { bytes: await file.read(), source: file.source, uniforms };
      }),
    );
    const results = await pool.runAll(items, channels as 1 | 3, transform, Math.max(1, Math.ceil(items.length / Math.max(1, pool.threads))));
    const kept = results.map((r, k) => ('data' in r ? k : -1)).filter((k) => k >= 0);
    if (kept.length < results.length) {
      const error = results.find((r) => 'error' in r) as { error: string };
      if (!options.skipBad) throw new DataError(error.error);
      options.onWarning?.(`skipped an image that could not be decoded: ${error.error}`);
    }
    const images = new Float32Array(kept.length * pixels);
    const labels = new Int32Array(kept.length);
    kept.forEach((k, b) => {
      normalizeInto(images, (results[k] as { data: Uint8Array }).data, normalization, b * pixels);
      labels[b] = dataset.files[indices[k]].label;
    });
    return { images, labels, size: kept.length, indices: Int32Array.from(kept, (k) => indices[k]) };
  };

  const ahead = Math.max(1, options.prefetch ?? 2);
  const pending: Promise<Batch>[] = [];
  let next = options.skip ?? 0;
  const fill = () => {
    while (pending.length < ahead && next < count) pending.push(prepare(next++));
  };
  fill();
  while (pending.length) {
    const batch = await pending.shift()!;
    fill();
    yield batch;
  }
}

/** A folder of class folders as an ImageFileDataset (nothing is decoded yet). */
export async function imageFileDataset(root: string, shape: ImageShape, normalization: Normalization, classNames?: string[]): Promise<ImageFileDataset> {
  const listed = await listImageFolder(root, { classNames });
  return { name: root, classNames: listed.classNames, files: listed.files, shape, normalization };
}

/**
 * ImageNet's layout: `<root>/train/<synset>/*.JPEG`; validation either by folder
 * (`<root>/val/<synset>/`) or flat (`<root>/val/*.JPEG`) with a label file whose lines are either
 * `<file> <synset or index>` or one synset or index per image in sorted file order.
 */
export async function imagenetDataset(root: string, split: 'train' | 'val', shape: ImageShape, normalization: Normalization, options: { labelsFile?: string; classNames?: string[] } = {}): Promise<ImageFileDataset> {
  const dir = join(root, split);
  if (!existsSync(dir)) throw new DataError(`${dir}: no such folder (expected ImageNet's ${split}/ folder)`);
  const entries = await readdir(dir, { withFileTypes: true });
  const hasFolders = entries.some((e) => e.isDirectory());
  if (split === 'train' || hasFolders) {
    return { ...(await imageFileDataset(dir, shape, normalization, options.classNames)), name: `${root}:${split}` };
  }
  const classNames = options.classNames ?? (await imageFileDataset(join(root, 'train'), shape, normalization)).classNames;
  const labelsFile = options.labelsFile ?? join(root, 'val_labels.txt');
  if (!existsSync(labelsFile)) throw new DataError(`${labelsFile}: missing (a flat val/ folder needs a label file; give it with --val-labels)`);
  const images = entries.filter((e) => e.isFile() && /\.(jpe?g|png)$/i.test(e.name)).map((e) => e.name).sort();
  const lines = (await readFile(labelsFile, 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
  const bySynset = new Map(classNames.map((c, i) => [c, i]));
  const parseLabel = (token: string, line: number): number => {
    const label = /^\d+$/.test(token) ? Number(token) : bySynset.get(token);
    if (label === undefined || label < 0 || label >= classNames.length) throw new DataError(`${labelsFile}:${line}: label '${token}' is not one of the ${classNames.length} classes`);
    return label;
  };
  const labels = new Map<string, number>();
  if (lines[0]?.split(/[\s,]+/).length >= 2) {
    lines.forEach((line, i) => {
      const [file, token] = line.split(/[\s,]+/);
      labels.set(basename(file).replace(/\.(jpe?g|png)$/i, ''), parseLabel(token, i + 1));
    });
  } else {
    if (lines.length !== images.length) throw new DataError(`${labelsFile}: ${lines.length} labels for ${images.length} images in ${dir}`);
    images.forEach((name, i) => labels.set(name.replace(/\.(jpe?g|png)$/i, ''), parseLabel(lines[i], i + 1)));
  }
  const files: ImageFile[] = images.map((name) => {
    const label = labels.get(name.replace(/\.(jpe?g|png)$/i, ''));
    if (label === undefined) throw new DataError(`${labelsFile}: no label for ${name}`);
    const path = join(dir, name);
    return { source: path, label, read: async () => new Uint8Array(await readFile(path)) };
  });
  return { name: `${root}:${split}`, classNames, files, shape, normalization };
}
