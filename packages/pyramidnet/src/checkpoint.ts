import { ConfigError, DATASETS, type InputSpec, type Normalization, type Preprocessing, WeightsError, datasetForModel } from '@pyramid/core';
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
  preprocessing?: Preprocessing;
  classNames?: string[];
  preset?: string;
}

/**
 * The input description a model gets when none is given: the normalisation and preprocessing of its
 * preset's dataset, else of the dataset table's first entry with the model's layout and channels
 * (its resize scaled with the model's size), else none (pixels scaled to 0-1) and a centre crop at
 * the model's size.
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
  const side = Math.max(arch.input.height, arch.input.width);
  const preprocessing: Preprocessing = description.preprocessing ??
    (dataset?.preprocessing.kind === 'center-crop'
      ? { kind: 'center-crop', resize: Math.round((dataset.preprocessing.resize * side) / Math.max(dataset.shape.height, dataset.shape.width)) }
      : { kind: 'center-crop', resize: side });
  return { shape: { ...arch.input }, normalization: structuredClone(normalization), classNames: [...classNames], preprocessing: { ...preprocessing } };
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
