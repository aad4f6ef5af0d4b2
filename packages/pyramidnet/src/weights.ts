import * as tf from '@tensorflow/tfjs-core';
import { WeightsError } from '@pyramid/core';
import type { BatchNorm2d } from '@pyramid/units';
import { batchNorms } from './batch-norms';
import type { PyramidNet } from './model';
import {
  readSafetensors,
  writeSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
  float32Entry,
  int64Entry,
  toFloat32,
  toIntegers,
} from './safetensors';
import { isTorchFile, readTorchFile, writeTorchFile } from './torch-file';

/**
 * 'native': tfjs layouts, NHWC activations with HWIO convolution kernels and [in, out] fc weights.
 * 'pytorch': the reference state_dict's layouts, OIHW kernels and [out, in] fc weights.
 */
export type WeightLayout = 'native' | 'pytorch';

const BATCHES_TRACKED = 'num_batches_tracked';

/** HWIO -> OIHW (to PyTorch) or OIHW -> HWIO (from PyTorch). */
function permuteKernel(values: Float32Array, shape: number[], toPytorch: boolean): Float32Array {
  const out = new Float32Array(values.length);
  if (toPytorch) {
    const [h, w, i, o] = shape;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < i; c++)
          for (let f = 0; f < o; f++) out[((f * i + c) * h + y) * w + x] = values[((y * w + x) * i + c) * o + f];
  } else {
    const [o, i, h, w] = shape;
    for (let f = 0; f < o; f++)
      for (let c = 0; c < i; c++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) out[((y * w + x) * i + c) * o + f] = values[((f * i + c) * h + y) * w + x];
  }
  return out;
}

function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** The shape a native tensor has in `layout`. */
function layoutShape(shape: number[], layout: WeightLayout): number[] {
  if (layout === 'native') return shape;
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (shape.length === 2) return [shape[1], shape[0]];
  return shape;
}

function toLayout(values: Float32Array, nativeShape: number[], layout: WeightLayout): Float32Array {
  if (layout === 'native') return values;
  if (nativeShape.length === 4) return permuteKernel(values, nativeShape, true);
  if (nativeShape.length === 2) return transpose2d(values, nativeShape[0], nativeShape[1]);
  return values;
}

function fromLayout(values: Float32Array, fileShape: number[], layout: WeightLayout): Float32Array {
  if (layout === 'native') return values;
  if (fileShape.length === 4) return permuteKernel(values, fileShape, false);
  if (fileShape.length === 2) return transpose2d(values, fileShape[0], fileShape[1]);
  return values;
}

/**
 * The model's state_dict in the given layout, ready for `writeSafetensors`. Asynchronous: GPU
 * backends (WebGPU) cannot read tensors back synchronously outside browsers.
 */
export async function exportStateDict(model: PyramidNet, layout: WeightLayout): Promise<Map<string, TensorToWrite>> {
  const out = new Map<string, TensorToWrite>();
  for (const { name, variable } of model.namedTensors()) {
    const values = (await variable.data()) as Float32Array;
    out.set(name, float32Entry(toLayout(values, variable.shape, layout), layoutShape(variable.shape, layout)));
  }
  for (const [prefix, bn] of batchNorms(model)) out.set(`${prefix}${BATCHES_TRACKED}`, int64Entry([bn.batchesTracked], []));
  return out;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `'${n}'`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * Loads a state_dict into the model. Every key and shape is checked before any variable changes,
 * so a bad file leaves the model as it was.
 */
export function importStateDict(model: PyramidNet, file: SafetensorsFile, layout: WeightLayout, source: string): void {
  loadStateDict(model, file, layout, source, new Set());
}

/** `importStateDict` leaving the tensors named in `except` as they are. */
function loadStateDict(model: PyramidNet, file: SafetensorsFile, layout: WeightLayout, source: string, except: ReadonlySet<string>): void {
  const targets = model.namedTensors().filter((t) => !except.has(t.name));
  const norms = batchNorms(model);
  const expectedNames = new Set(targets.map((t) => t.name));
  const counterNames = new Map(norms.map(([prefix, bn]) => [`${prefix}${BATCHES_TRACKED}`, bn]));
  const fileNames = [...file.tensors.keys()];
  const missing = targets.map((t) => t.name).filter((n) => !file.tensors.has(n));
  if (missing.length) throw new WeightsError(`${source}: missing ${missing.length === 1 ? 'key' : 'keys'} ${listNames(missing)}`);
  const extra = fileNames.filter((n) => !expectedNames.has(n) && !counterNames.has(n));
  if (extra.length) throw new WeightsError(`${source}: unexpected ${extra.length === 1 ? 'key' : 'keys'} ${listNames(extra)}`);

  const staged: [tf.Variable, Float32Array][] = [];
  for (const target of targets) {
    const entry = file.tensors.get(target.name)!;
    const expected = layoutShape(target.variable.shape, layout);
    if (entry.shape.length !== expected.length || entry.shape.some((d, i) => d !== expected[i])) {
      const where = layout === 'pytorch' ? ' (PyTorch layout)' : '';
      throw new WeightsError(`${source}: shape mismatch for '${target.name}': expected [${expected.join(', ')}]${where}, found [${entry.shape.join(', ')}]`);
    }
    let values: Float32Array;
    try {
      values = toFloat32(entry);
    } catch {
      throw new WeightsError(`${source}: tensor '${target.name}' has dtype ${entry.dtype}, expected a floating-point type`);
    }
    staged.push([target.variable, fromLayout(values, entry.shape, layout)]);
  }
  const counters: [BatchNorm2d, number][] = [];
  for (const [name, bn] of counterNames) {
    const entry = file.tensors.get(name);
    if (!entry) continue;
    if (!['I64', 'I32', 'I16', 'I8', 'U8'].includes(entry.dtype) || entry.shape.length > 1) {
      throw new WeightsError(`${source}: '${name}' must be an integer scalar, found ${entry.dtype} [${entry.shape.join(', ')}]`);
    }
    counters.push([bn, toIntegers(entry)[0] ?? 0]);
  }

  for (const [variable, values] of staged) {
    const value = tf.tensor(values, variable.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
  for (const [bn, count] of counters) bn.batchesTracked = count;
}

/**
 * A state_dict in PyTorch layout from either kind of file people have: safetensors, or what
 * `torch.save` wrote (read safely, wrappers and 'module.' prefixes removed; see `readTorchFile`).
 */
export function readPytorchStateDict(bytes: Uint8Array, source: string): SafetensorsFile {
  return isTorchFile(bytes) ? readTorchFile(bytes, source) : readSafetensors(bytes, source);
}

/**
 * Loads weights of the reference PyTorch implementation: `safetensors.torch.save_file(model.state_dict())`,
 * or a `torch.save` file (a state_dict, the reference code's checkpoint dict, a DataParallel model's).
 */
export function importPytorchWeights(model: PyramidNet, bytes: Uint8Array, source = 'weights.safetensors'): void {
  importStateDict(model, readPytorchStateDict(bytes, source), 'pytorch', source);
}

/**
 * The model's weights as a reference-PyTorch state_dict (num_batches_tracked included): in
 * safetensors, or as a `torch.save` file that `torch.load(path, weights_only=True)` reads.
 */
export async function exportPytorchWeights(model: PyramidNet, format: 'safetensors' | 'torch' = 'safetensors'): Promise<Uint8Array> {
  const state = await exportStateDict(model, 'pytorch');
  return format === 'torch' ? writeTorchFile(state) : writeSafetensors(state, { format: 'pt' });
}

/** What `transferWeights` did with each tensor, by name. */
export interface WeightTransfer {
  /** Model tensors (and BN batch counters) given the file's values. */
  loaded: string[];
  /** Head tensors of another shape in the file (another class count): left as freshly initialised. */
  reinitialised: string[];
  /** File tensors the model has no use for. */
  skipped: string[];
}

/** The classifier: the one part whose shape depends on the class count. */
const HEAD = new Set(['fc.weight', 'fc.bias']);

/**
 * Starts a model from another one's weights, for fine-tuning: every tensor of the body must be in
 * the file with its shape; the head, when the file's has another class count, keeps the model's
 * own initialisation (the reference code's: nn.Linear's default), and file tensors the model lacks
 * are skipped. Everything is checked before any variable changes.
 */
export function transferWeights(model: PyramidNet, file: SafetensorsFile, layout: WeightLayout, source: string): WeightTransfer {
  const reinitialised: string[] = [];
  const kept = new Map(file.tensors);
  for (const { name, variable } of model.namedTensors()) {
    const entry = file.tensors.get(name);
    const expected = layoutShape(variable.shape, layout);
    if (HEAD.has(name) && entry && entry.shape.join('x') !== expected.join('x')) {
      reinitialised.push(name);
      kept.delete(name);
    }
  }
  if (reinitialised.length === 1) {
    // A head with the model's class count in one tensor but not the other is a broken file.
    throw new WeightsError(`${source}: '${reinitialised[0]}' has another class count than the rest of the head`);
  }
  const expectedNames = new Set([...model.namedTensors().map((t) => t.name), ...batchNorms(model).map(([prefix]) => `${prefix}${BATCHES_TRACKED}`)]);
  const skipped = [...kept.keys()].filter((name) => !expectedNames.has(name));
  for (const name of skipped) kept.delete(name);
  loadStateDict(model, { tensors: kept, metadata: file.metadata }, layout, source, new Set(reinitialised));
  return { loaded: [...kept.keys()], reinitialised, skipped };
}
