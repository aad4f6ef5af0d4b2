import { ConfigError, DATASETS, type InputSpec, type Normalization, WeightsError, datasetForModel } from '@pyramid/core';
import { type ArchitectureConfig, architectureConfig } from './architecture';
import { PyramidNet } from './model';
import { PRESETS } from './presets';
import { readSafetensors, writeSafetensors } from './safetensors';
import { exportStateDict, importStateDict } from './weights';

export const CHECKPOINT_FORMAT = 'pyramidnet-ts/checkpoint';
export const CHECKPOINT_VERSION = 1;
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** config.json of a checkpoint: enough to rebuild the model and prepare its inputs. */
export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  architecture: Required<ArchitectureConfig>;
  input: InputSpec;
  /** Native layout: HWIO kernels, [in, out] fc weights. */
  weights: { file: typeof WEIGHTS_FILE; layout: 'native' };
  preset?: string;
}

export interface InputDescription {
  normalization?: Normalization;
  classNames?: string[];
  preset?: string;
}

/**
 * The input description a model gets when none is given: the normalisation of its preset's dataset,
 * else of the dataset table's first entry with the model's layout and channels, else none (pixels
 * scaled to 0-1).
 */
export function defaultInputSpec(model: PyramidNet, description: InputDescription = {}): InputSpec {
  const arch = model.architecture;
  const classNames = description.classNames ?? Array.from({ length: arch.classes }, (_, i) => String(i));
  if (classNames.length !== arch.classes) {
    throw new ConfigError(`${classNames.length} class names given for a model with ${arch.classes} classes`);
  }
  const presetDataset = PRESETS.find((p) => p.name === description.preset)?.dataset;
  const dataset = presetDataset ? DATASETS[presetDataset] : datasetForModel(arch.layout, arch.input.channels);
  const normalization = description.normalization ??
    dataset?.normalization ?? { mean: Array(arch.input.channels).fill(0), std: Array(arch.input.channels).fill(1), scale: 255 as const };
  return { shape: { ...arch.input }, normalization: structuredClone(normalization), classNames: [...classNames] };
}

/** A checkpoint as bytes: works the same in Node and in browsers. */
export async function encodeCheckpoint(model: PyramidNet, description: InputDescription = {}): Promise<{ config: CheckpointConfig; weights: Uint8Array }> {
  const config: CheckpointConfig = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    architecture: architectureConfig(model.architecture),
    input: defaultInputSpec(model, description),
    weights: { file: WEIGHTS_FILE, layout: 'native' },
    ...(description.preset ? { preset: description.preset } : {}),
  };
  const weights = writeSafetensors(await exportStateDict(model, 'native'), { format: 'pt', producer: '@pyramid/pyramidnet' });
  return { config, weights };
}

/** Validates a parsed config.json; `source` names the file in errors. */
export function parseCheckpointConfig(text: string, source: string): CheckpointConfig {
  let config: CheckpointConfig;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new WeightsError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (config?.format !== CHECKPOINT_FORMAT) throw new WeightsError(`${source}: not a PyramidNet-TS checkpoint config (format is ${JSON.stringify(config?.format)})`);
  if (config.version !== CHECKPOINT_VERSION) throw new WeightsError(`${source}: checkpoint version ${config.version} is not supported (this version reads ${CHECKPOINT_VERSION})`);
  if (!config.architecture || !config.input?.normalization || !Array.isArray(config.input?.classNames)) {
    throw new WeightsError(`${source}: missing 'architecture' or 'input' (normalization, classNames)`);
  }
  return config;
}

/** Rebuilds a model from checkpoint bytes; nothing is half-loaded on error. */
export function decodeCheckpoint(configText: string, weights: Uint8Array, source = 'checkpoint'): { model: PyramidNet; config: CheckpointConfig } {
  const config = parseCheckpointConfig(configText, `${source}/${CONFIG_FILE}`);
  let model: PyramidNet;
  try {
    model = new PyramidNet(config.architecture);
  } catch (error) {
    if (error instanceof ConfigError) throw new WeightsError(`${source}/${CONFIG_FILE}: ${error.message}`);
    throw error;
  }
  try {
    importStateDict(model, readSafetensors(weights, `${source}/${WEIGHTS_FILE}`), 'native', `${source}/${WEIGHTS_FILE}`);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, config };
}

/**
 * Writes a checkpoint folder atomically: into a temporary sibling first, then renamed into place,
 * so a crash leaves either the previous checkpoint or the new one, never a mix. An existing folder
 * is replaced only with `overwrite`.
 */
export async function saveCheckpoint(
  dir: string,
  model: PyramidNet,
  description: InputDescription = {},
  options: { overwrite?: boolean } = {},
): Promise<CheckpointConfig> {
  const { config, weights } = await encodeCheckpoint(model, description);
  await writeFolderAtomically(dir, { [CONFIG_FILE]: `${JSON.stringify(config, null, 2)}\n`, [WEIGHTS_FILE]: weights }, options.overwrite ?? false);
  return config;
}

/** Loads a checkpoint folder written by `saveCheckpoint`. */
export async function loadCheckpoint(dir: string): Promise<{ model: PyramidNet; config: CheckpointConfig }> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const read = async (file: string) => {
    try {
      return await fs.readFile(path.join(dir, file));
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new WeightsError(code === 'ENOENT' ? `${path.join(dir, file)}: not found (is ${dir} a checkpoint folder?)` : `${path.join(dir, file)}: ${(error as Error).message}`);
    }
  };
  const [configBytes, weights] = await Promise.all([read(CONFIG_FILE), read(WEIGHTS_FILE)]);
  return decodeCheckpoint(configBytes.toString('utf8'), new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength), dir);
}

/** Writes `files` into `dir` through a temporary sibling folder and renames. */
export async function writeFolderAtomically(dir: string, files: Record<string, string | Uint8Array>, overwrite: boolean): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const target = path.resolve(dir);
  const exists = await fs.stat(target).then(
    () => true,
    () => false,
  );
  if (exists && !overwrite) throw new WeightsError(`${dir} already exists; refusing to overwrite it`);
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const staging = `${target}.tmp-${tag}`;
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.mkdir(staging);
  try {
    for (const [name, content] of Object.entries(files)) {
      const handle = await fs.open(path.join(staging, name), 'w');
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    if (exists) {
      const retired = `${target}.old-${tag}`;
      await fs.rename(target, retired);
      await fs.rename(staging, target);
      await fs.rm(retired, { recursive: true, force: true });
    } else {
      await fs.rename(staging, target);
    }
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}
