import { existsSync, statSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, type Normalization, type Preprocessing } from '@pyramid/core';
import { fileChunks, readTar } from './archive/tar';
import { type ImageDataset, channelStatistics, validateDataset } from './dataset';
import { inspectImage } from './image/decode';
import { preprocessingSpec } from './image/transforms';
import { DecodePool } from './image/pool';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export interface ImageFile {
  /** Where it came from, for messages: a path, or archive:member. */
  source: string;
  label: number;
  read: () => Promise<Uint8Array>;
}

export interface ImageFolderOptions {
  /** The classes in label order; default: the class folders' names, sorted. */
  classNames?: string[];
  /** Output size; default: the first image's. Other sizes are brought to it as `preprocessing` says. */
  height?: number;
  width?: number;
  /** Default: the first image's, 1 for greyscale and 3 for colour. */
  channels?: 1 | 3;
  /** Default: resize the shorter side to max(height, width) and take the centre. */
  preprocessing?: Preprocessing;
  /** Skip images that fail to decode, with a warning and a count, instead of failing. */
  skipBad?: boolean;
  onWarning?: (message: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** Decoding threads (Node); default: all cores. */
  threads?: number;
  normalization?: Normalization;
  name?: string;
}

function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Code-point order, as Python's sorted() and torchvision's ImageFolder use. */
function sortNames(names: string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function classIndex(found: string[], given: string[] | undefined, where: string): Map<string, number> {
  const classes = given ?? sortNames(found);
  if (given) {
    const unknown = found.filter((c) => !given.includes(c));
    if (unknown.length) throw new DataError(`${where}: class folder '${unknown[0]}' is not in the given class list`);
  }
  return new Map(classes.map((c, i) => [c, i]));
}

/** Lists `root/<class>/*.{jpg,jpeg,png}`. */
export async function listImageFolder(root: string, options: Pick<ImageFolderOptions, 'classNames' | 'onWarning'> = {}): Promise<{ files: ImageFile[]; classNames: string[] }> {
  if (!existsSync(root)) throw new DataError(`${root}: no such folder`);
  const entries = await readdir(root, { withFileTypes: true });
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  if (folders.length === 0) throw new DataError(`${root}: no class folders (expected ${root}/<class>/<image>.jpg)`);
  const index = classIndex(folders, options.classNames, root);
  const files: ImageFile[] = [];
  let ignored = 0;
  for (const folder of sortNames(folders)) {
    const dir = join(root, folder);
    const names = sortNames((await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name));
    const images = names.filter(hasImageExtension);
    ignored += names.length - images.length;
    if (images.length === 0) throw new DataError(`${dir}: empty class folder (no .jpg, .jpeg or .png files)`);
    for (const name of images) {
      const path = join(dir, name);
      files.push({ source: path, label: index.get(folder)!, read: async () => new Uint8Array(await readFile(path)) });
    }
  }
  if (ignored) options.onWarning?.(`${root}: ignored ${ignored} file${ignored === 1 ? '' : 's'} without an image extension`);
  return { files, classNames: [...index.keys()] };
}

/** The members of the last archive read, kept so that listing its splits reads it once. */
let lastArchive: { key: string; members: { name: string; data: Uint8Array }[] } | null = null;

async function archiveMembers(archive: string): Promise<{ name: string; data: Uint8Array }[]> {
  const { size, mtimeMs } = await stat(archive);
  const key = `${archive}:${size}:${mtimeMs}`;
  if (lastArchive?.key === key) return lastArchive.members;
  const members: { name: string; data: Uint8Array }[] = [];
  for await (const entry of readTar(fileChunks(archive), archive)) if (entry.type === 'file') members.push({ name: entry.name, data: entry.data });
  lastArchive = { key, members };
  return members;
}

/** Lists `<prefix><class>/*.{jpg,jpeg,png}` inside a tar or tar.gz archive. */
export async function listImageArchive(archive: string, prefix: string, options: Pick<ImageFolderOptions, 'classNames' | 'onWarning'> = {}): Promise<{ files: ImageFile[]; classNames: string[] }> {
  if (!existsSync(archive)) throw new DataError(`${archive}: no such file`);
  const byClass = new Map<string, { name: string; data: Uint8Array }[]>();
  let ignored = 0;
  const normalizedPrefix = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
  for (const entry of await archiveMembers(archive)) {
    if (!entry.name.startsWith(normalizedPrefix)) continue;
    const rest = entry.name.slice(normalizedPrefix.length).split('/');
    if (rest.length !== 2 || rest[1].startsWith('.')) continue;
    if (!hasImageExtension(rest[1])) {
      ignored++;
      continue;
    }
    if (!byClass.has(rest[0])) byClass.set(rest[0], []);
    byClass.get(rest[0])!.push({ name: rest[1], data: entry.data });
  }
  if (byClass.size === 0) throw new DataError(`${archive}: no images under '${normalizedPrefix}<class>/' in the archive`);
  const index = classIndex([...byClass.keys()], options.classNames, archive);
  const files: ImageFile[] = [];
  for (const folder of sortNames([...byClass.keys()])) {
    const members = byClass.get(folder)!.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const m of members) files.push({ source: `${archive}:${normalizedPrefix}${folder}/${m.name}`, label: index.get(folder)!, read: async () => m.data });
  }
  if (ignored) options.onWarning?.(`${archive}: ignored ${ignored} file${ignored === 1 ? '' : 's'} without an image extension`);
  return { files, classNames: [...index.keys()] };
}

/** Decodes files (and resizes them to one size) on the decoding threads; keeps the files' order. */
async function decodeAll(files: ImageFile[], size: { height: number; width: number; channels: 1 | 3 }, preprocessing: Preprocessing, options: ImageFolderOptions): Promise<(Uint8Array | string)[]> {
  const threads = options.threads ?? (await import('node:os')).availableParallelism();
  const pool = await DecodePool.create(files.length >= 512 ? threads : 1);
  try {
    const results: (Uint8Array | string)[] = [];
    const chunk = 2048;
    for (let i = 0; i < files.length; i += chunk) {
      const items = await Promise.all(files.slice(i, i + chunk).map(async (f) => ({ bytes: await f.read(), source: f.source })));
      const decoded = await pool.runAll(items, size.channels, preprocessingSpec(preprocessing, size), 128);
      for (const r of decoded) results.push('data' in r ? r.data : r.error);
      options.onProgress?.(results.length, files.length);
    }
    return results;
  } finally {
    await pool.close();
  }
}

/** Decodes listed image files into an in-memory dataset of one size. */
export async function imageDatasetFromFiles(files: ImageFile[], classNames: string[], options: ImageFolderOptions = {}): Promise<ImageDataset> {
  if (files.length === 0) throw new DataError(`${options.name ?? 'image folder'}: no images`);
  let { height, width, channels } = options;
  if (height === undefined || width === undefined || channels === undefined) {
    const first = await inspectImage(await files[0].read(), files[0].source);
    height ??= first.height;
    width ??= first.width;
    channels ??= first.channels;
  }
  const preprocessing = options.preprocessing ?? { kind: 'center-crop', resize: Math.max(height, width) };
  const decoded = await decodeAll(files, { height, width, channels }, preprocessing, options);
  const pixels = height * width * channels;
  const bad = decoded.map((d, i) => (typeof d === 'string' ? i : -1)).filter((i) => i >= 0);
  if (bad.length && !options.skipBad) {
    throw new DataError(`${decoded[bad[0]]}${bad.length > 1 ? ` (and ${bad.length - 1} more bad images; skip them with --skip-bad-images)` : ''}`);
  }
  if (bad.length) options.onWarning?.(`skipped ${bad.length} image${bad.length === 1 ? '' : 's'} that could not be decoded, e.g. ${decoded[bad[0]]}`);
  const kept = decoded.length - bad.length;
  const images = new Uint8Array(kept * pixels);
  const labels = new Int32Array(kept);
  let k = 0;
  decoded.forEach((d, i) => {
    if (typeof d === 'string') return;
    images.set(d, k * pixels);
    labels[k++] = files[i].label;
  });
  const statistics = channelStatistics(images, channels);
  return validateDataset({
    name: options.name ?? 'image-folder',
    shape: { height, width, channels },
    classNames,
    images,
    labels,
    normalization: options.normalization ?? statistics,
    statistics,
  });
}

/** Which of train/, test/ and val/ an archive holds images under. */
export async function archiveSplits(archive: string): Promise<string[]> {
  const names = (await archiveMembers(archive)).map((m) => m.name);
  return ['train', 'test', 'val'].filter((split) => names.some((n) => n.startsWith(`${split}/`) && hasImageExtension(n)));
}

function isArchivePath(root: string): boolean {
  return /\.tar(\.gz)?$|\.tgz$/.test(root) && existsSync(root) && statSync(root).isFile();
}

/**
 * What a folder or archive of images holds, read from its listing and its first image: the count,
 * the classes, and the first image's size and channels (1 greyscale, 3 colour).
 */
export async function inspectImageFolder(root: string, options: { prefix?: string } = {}): Promise<{ images: number; classNames: string[]; height: number; width: number; channels: 1 | 3; first: string }> {
  const { files, classNames } = isArchivePath(root) ? await listImageArchive(root, options.prefix ?? '') : await listImageFolder(options.prefix ? join(root, options.prefix) : root);
  const first = await inspectImage(await files[0].read(), files[0].source);
  return { images: files.length, classNames, ...first, first: files[0].source };
}

/** An image folder (`root/<class>/*.jpg`) or a tar archive of one, decoded into memory. */
export async function loadImageFolder(root: string, options: ImageFolderOptions & { prefix?: string } = {}): Promise<ImageDataset> {
  const { files, classNames } = isArchivePath(root) ? await listImageArchive(root, options.prefix ?? '', options) : await listImageFolder(options.prefix ? join(root, options.prefix) : root, options);
  return imageDatasetFromFiles(files, classNames, { name: options.name ?? root, ...options });
}
