import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DATASETS, DataError, type Normalization } from '@pyramid/core';
import { type ImageDataset, channelStatistics, validateDataset } from './dataset';

export interface IdxArray {
  /** uint8 data only: the type MNIST-style datasets use. */
  data: Uint8Array;
  shape: number[];
}

/**
 * Reads LeCun's idx format: a big-endian magic number (two zero bytes, the type 0x08 for uint8,
 * the number of dimensions), the dimensions as big-endian 32-bit integers, then the data.
 * gzip-compressed files are recognised by their own magic bytes.
 */
/** Bytes a gzipped idx file may unpack to (MNIST's largest file unpacks to 47 MB): a small file cannot claim gigabytes. */
export const MAX_IDX_BYTES = 1 << 30;

export function readIdx(bytes: Uint8Array, source: string, maxBytes = MAX_IDX_BYTES): IdxArray {
  let raw = bytes;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = new Uint8Array(gunzipSync(raw, { maxOutputLength: maxBytes }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new DataError(`${source}: unpacks to more than ${maxBytes} bytes`);
      throw new DataError(`${source}: corrupt gzip data (${(error as Error).message})`);
    }
  }
  if (raw.length < 4) throw new DataError(`${source}: too short for an idx file (${raw.length} bytes)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new DataError(`${source}: bad magic number 0x${view.getUint32(0).toString(16).padStart(8, '0')} (not an idx file)`);
  }
  if (raw[2] !== 0x08) throw new DataError(`${source}: idx data type 0x${raw[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = raw[3];
  if (rank < 1 || raw.length < 4 + 4 * rank) throw new DataError(`${source}: truncated idx header`);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (raw.length - start !== count) {
    throw new DataError(`${source}: header says ${shape.join('x')} = ${count} values but ${raw.length - start} bytes follow`);
  }
  return { data: raw.slice(start), shape };
}

/** Writes an uncompressed idx file of unsigned bytes (tests and fixtures). */
export function writeIdx(data: Uint8Array, shape: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** Where Debian's dataset-fashion-mnist package puts the original files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function findFile(dir: string, stem: string): string {
  for (const name of [stem, `${stem}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  throw new DataError(`${join(dir, stem)}: missing (looked for ${stem} and ${stem}.gz)`);
}

async function loadPair(dir: string, images: string, labels: string, name: string, classNames: string[], normalization: Normalization): Promise<ImageDataset> {
  const imageFile = findFile(dir, images);
  const labelFile = findFile(dir, labels);
  const x = readIdx(new Uint8Array(await readFile(imageFile)), imageFile);
  const y = readIdx(new Uint8Array(await readFile(labelFile)), labelFile);
  if (x.shape.length !== 3) throw new DataError(`${imageFile}: expected images of rank 3, found shape ${x.shape.join('x')}`);
  if (y.shape.length !== 1) throw new DataError(`${labelFile}: expected labels of rank 1, found shape ${y.shape.join('x')}`);
  if (x.shape[0] !== y.shape[0]) throw new DataError(`${imageFile} has ${x.shape[0]} images but ${labelFile} has ${y.shape[0]} labels`);
  return validateDataset({
    name,
    shape: { height: x.shape[1], width: x.shape[2], channels: 1 },
    classNames,
    images: x.data,
    labels: Int32Array.from(y.data),
    normalization,
    statistics: channelStatistics(x.data, 1),
  });
}

/**
 * MNIST or Fashion-MNIST from a folder of the four original idx files (gzipped or not):
 * train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte.
 */
export async function loadIdxDataset(dir: string, kind: 'mnist' | 'fashion-mnist'): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const { classNames, normalization } = DATASETS[kind];
  return {
    train: await loadPair(dir, 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte', `${kind}/train`, [...classNames!], normalization),
    test: await loadPair(dir, 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', `${kind}/test`, [...classNames!], normalization),
  };
}
