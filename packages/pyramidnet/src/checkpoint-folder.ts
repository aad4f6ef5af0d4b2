import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeightsError } from '@pyramid/core';
import { writeFolderAtomically } from '@pyramid/core/node';
import { CONFIG_FILE, type CheckpointConfig, type InputDescription, WEIGHTS_FILE, decodeCheckpoint, encodeCheckpoint } from './checkpoint';
import type { PyramidNet } from './model';
import { readSafetensors, toFloat32, writeSafetensors } from './safetensors';

/** Float32 tensors by name, as a part of a checkpoint holds them (e.g. an optimizer's buffers). */
export type TensorValues = Map<string, { shape: number[]; values: Float32Array }>;

/**
 * What a checkpoint folder holds besides the model, by part name: tensor parts are stored as
 * `<name>.safetensors`, documents as `<name>.json`. Training stores its optimizer buffers and
 * its state this way, so one folder resumes a run.
 */
export interface CheckpointParts {
  tensors?: Record<string, TensorValues>;
  documents?: Record<string, unknown>;
}

export interface SaveCheckpointOptions {
  /** Replace an existing folder (default: refuse). */
  overwrite?: boolean;
  parts?: CheckpointParts;
}

/**
 * Writes a checkpoint folder (config.json, model.safetensors and any parts) atomically: a crash
 * leaves either the previous checkpoint or the new one, never a mix.
 */
export async function saveCheckpoint(dir: string, model: PyramidNet, description: InputDescription = {}, options: SaveCheckpointOptions = {}): Promise<CheckpointConfig> {
  if (!options.overwrite && existsSync(dir)) throw new WeightsError(`${dir} already exists; refusing to overwrite it`);
  const { config, weights } = await encodeCheckpoint(model, description);
  const files: Record<string, string | Uint8Array> = { [CONFIG_FILE]: `${JSON.stringify(config, null, 2)}\n`, [WEIGHTS_FILE]: weights };
  for (const [name, tensors] of Object.entries(options.parts?.tensors ?? {})) {
    files[`${name}.safetensors`] = writeSafetensors(new Map([...tensors].map(([key, { shape, values }]) => [key, { dtype: 'F32' as const, shape, data: values }])));
  }
  for (const [name, document] of Object.entries(options.parts?.documents ?? {})) {
    files[`${name}.json`] = `${JSON.stringify(document, null, 2)}\n`;
  }
  await writeFolderAtomically(dir, files);
  return config;
}

export interface LoadedCheckpoint {
  model: PyramidNet;
  config: CheckpointConfig;
  /** The tensor parts asked for, by name. */
  tensors: Record<string, TensorValues>;
  /** The documents asked for, by name, as parsed JSON. */
  documents: Record<string, unknown>;
}

async function readPart(dir: string, file: string): Promise<Buffer> {
  const path = join(dir, file);
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new WeightsError(code === 'ENOENT' ? `${path}: not found (is ${dir} a checkpoint folder?)` : `${path}: ${(error as Error).message}`);
  }
}

/** Loads a checkpoint folder written by `saveCheckpoint`, with the parts named in `parts`. */
export async function loadCheckpoint(dir: string, parts: { tensors?: string[]; documents?: string[] } = {}): Promise<LoadedCheckpoint> {
  // In order, so that a folder missing everything is reported by its config.json.
  const configBytes = await readPart(dir, CONFIG_FILE);
  const weights = await readPart(dir, WEIGHTS_FILE);
  const tensors: Record<string, TensorValues> = {};
  for (const name of parts.tensors ?? []) {
    const file = `${name}.safetensors`;
    const bytes = await readPart(dir, file);
    const read = readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), join(dir, file));
    tensors[name] = new Map([...read.tensors].map(([key, entry]) => [key, { shape: entry.shape, values: toFloat32(entry) }]));
  }
  const documents: Record<string, unknown> = {};
  for (const name of parts.documents ?? []) {
    const file = `${name}.json`;
    const text = (await readPart(dir, file)).toString('utf8');
    try {
      documents[name] = JSON.parse(text);
    } catch (error) {
      throw new WeightsError(`${join(dir, file)}: not valid JSON (${(error as Error).message})`);
    }
  }
  const { model, config } = decodeCheckpoint(configBytes.toString('utf8'), new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength), dir);
  return { model, config, tensors, documents };
}
