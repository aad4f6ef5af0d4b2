import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { type InputSpec, inputPreprocessing } from '@pyramid/core';
import { decodeImage, imageFormat, normalizeInto, preprocessImage, readNpy } from '@pyramid/datasets';
import { loadCheckpoint } from '@pyramid/pyramidnet/node';
import type { Command } from 'commander';
import { type BackendFlags, activateBackend, addBackendOptions } from '../backend';
import { parseInteger } from '../model-options';
import { UsageError, printJson } from '../output';

interface PredictFlags extends BackendFlags {
  checkpoint: string;
  top: number;
  json?: boolean;
}

/**
 * Model-ready NHWC float32 input from one file: a JPEG or PNG (brought to the model's size as the
 * checkpoint's preprocessing says, as eval does), or a .npy array whose uint8 pixels are normalised
 * as the checkpoint says and whose float32 values are taken as they are.
 */
async function loadInput(file: string, input: InputSpec) {
  const { shape, normalization } = input;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const { height, width, channels } = shape;
  if (imageFormat(new Uint8Array(bytes)) !== null) {
    const image = preprocessImage(await decodeImage(new Uint8Array(bytes), file, channels as 1 | 3), inputPreprocessing(input), shape);
    const images = new Float32Array(image.data.length);
    normalizeInto(images, image.data, normalization);
    return { images, count: 1 };
  }
  if (!file.toLowerCase().endsWith('.npy')) throw new UsageError(`${file}: neither a JPEG, a PNG nor a .npy array`);
  const array = readNpy(new Uint8Array(bytes), file);
  const dims = array.shape.length === 3 ? [1, ...array.shape] : array.shape;
  if (dims.length !== 4 || dims[1] !== height || dims[2] !== width || dims[3] !== channels) {
    throw new UsageError(`${file}: shape (${array.shape.join(', ')}) does not fit the model's ${height}x${width}x${channels} input (NHWC or HWC)`);
  }
  if (array.dtype === 'float32') return { images: array.data as Float32Array, count: dims[0] };
  const images = new Float32Array(array.data.length);
  normalizeInto(images, array.data as Uint8Array, normalization);
  return { images, count: dims[0] };
}

export function predictCommand(program: Command): void {
  addBackendOptions(
    program
      .command('predict')
      .description('classify images (JPEG, PNG) or .npy arrays (uint8 pixels are normalised; float32 are taken as model-ready) with a checkpoint')
      .argument('<inputs...>', 'input files')
      .requiredOption('--checkpoint <dir>', 'a checkpoint folder')
      .option('--top <k>', 'classes to show per image', parseInteger('--top'), 5)
      .option('--json', 'print JSON: {checkpoint, classNames, predictions: [{input, index, top: [{class, label, probability}], logits}]}'),
  ).action(async (inputs: string[], flags: PredictFlags) => {
    await activateBackend(flags, true);
    const { model, config } = await loadCheckpoint(flags.checkpoint);
    const names = config.input.classNames;
    const k = Math.min(flags.top, names.length);
    const predictions: { input: string; index: number; top: { class: number; label: string; probability: number }[]; logits: number[] }[] = [];
    for (const file of inputs) {
      const { images, count } = await loadInput(file, config.input);
      const { height, width, channels } = config.input.shape;
      const [l, p] = tf.tidy(() => {
        const out = model.predict(tf.tensor4d(images, [count, height, width, channels]));
        return [out, tf.softmax(out)];
      });
      const [logits, probabilities] = (await Promise.all([l.array(), p.array()])) as [number[][], number[][]];
      tf.dispose([l, p]);
      for (let i = 0; i < count; i++) {
        const order = probabilities[i].map((p, c) => [p, c] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
        predictions.push({ input: file, index: i, top: order.map(([p, c]) => ({ class: c, label: names[c], probability: p })), logits: logits[i] });
      }
    }
    if (flags.json) {
      printJson({ checkpoint: flags.checkpoint, classNames: names, predictions });
      return;
    }
    for (const p of predictions) {
      const where = predictions.filter((q) => q.input === p.input).length > 1 ? `${p.input}[${p.index}]` : p.input;
      process.stdout.write(`${where}: ${p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}\n`);
    }
  });
}
