/// <reference lib="webworker" />
import * as tf from '@tensorflow/tfjs-core';
import { projectKernelThreads, registerBackendPlugin, useBackend } from '@pyramid/core';
import { backendPlugin as webgpuPlugin } from '@pyramid/backend-webgpu';
import { type CheckpointConfig, type PyramidNet, decodeCheckpoint, encodeCheckpoint, formatSummary, summarize } from '@pyramid/pyramidnet';
import { RunStreams, TrainingStep, defaultRecipeFor, learningRate } from '@pyramid/train';
import type { BackendReply, FineTuneReply, LoadReply, ModelRequest, PredictReply, StepProgress, WorkerMessage } from './model-protocol';
import { datasetOf, readSample, sampleBatch } from './sample';

/**
 * The page's model, off the page's main thread. The CPU backend's kernel pool blocks its calling
 * thread (Atomics.wait) while its workers compute, which a browser allows in a worker only: here
 * the kernels run on as many threads as the page may have, and the page stays responsive. WebGPU
 * runs here too (Chromium offers navigator.gpu to workers).
 */
declare const self: DedicatedWorkerGlobalScope;

registerBackendPlugin(webgpuPlugin);

let model: PyramidNet | null = null;
let checkpoint: { config: CheckpointConfig; configText: string; weights: Uint8Array; source: string } | null = null;

async function selectBackend(choice: string, threads: number | undefined): Promise<BackendReply> {
  const notices: string[] = [];
  const info = await useBackend(choice, threads === undefined ? {} : { threads }, (n) => notices.push(n));
  return { name: info.name, detail: info.detail, notices, threads: info.name === 'cpu' ? projectKernelThreads() : null };
}

function load(configText: string, weights: Uint8Array, source: string): LoadReply {
  const loaded = decodeCheckpoint(configText, weights, source);
  model?.dispose();
  model = loaded.model;
  checkpoint = { config: loaded.config, configText, weights, source };
  return { config: loaded.config, summary: formatSummary(summarize(loaded.model)) };
}

async function predict(input: Float32Array): Promise<PredictReply> {
  if (!model || !checkpoint) throw new Error('load a checkpoint first');
  const { height, width, channels } = checkpoint.config.input.shape;
  const start = performance.now();
  const probabilities = tf.tidy(() => tf.softmax(model!.predict(tf.tensor4d(input, [input.length / (height * width * channels), height, width, channels]))));
  const values = (await probabilities.data()) as Float32Array;
  probabilities.dispose();
  return { probabilities: values, ms: performance.now() - start };
}

/**
 * Fine-tunes a copy of the loaded checkpoint on `trainingImages` (the page's images of its dataset)
 * with the trainer's own step, recipe and random streams: the steps `train()` takes from the same
 * weights on the same images (the dataset's default recipe, its batch size capped at the images
 * there are, its schedule spread over the steps, the images normalised as the checkpoint says).
 */
async function fineTune(trainingImages: Uint8Array, steps: number, seed: number, progress: (p: StepProgress) => void): Promise<FineTuneReply> {
  if (!checkpoint) throw new Error('load a checkpoint first');
  const { config, configText, weights, source } = checkpoint;
  const input = config.input;
  const dataset = datasetOf(input);
  if (!dataset) throw new Error("the page has no training images for this checkpoint's classes");
  let net: PyramidNet | null = null;
  let step: TrainingStep | null = null;
  try {
    const streams = new RunStreams(seed);
    const sample = readSample(trainingImages, input.shape);
    const { recipe } = defaultRecipeFor(dataset);
    recipe.batchSize = Math.min(recipe.batchSize, sample.count);
    // A copy, so that the model classifying keeps the loaded weights.
    net = decodeCheckpoint(configText, weights, source).model;
    step = new TrainingStep(net, recipe);
    const stepsPerEpoch = Math.floor(sample.count / recipe.batchSize);
    const policy = { baseLr: recipe.lr, epochs: Math.ceil(steps / stepsPerEpoch), schedule: recipe.schedule, warmupEpochs: recipe.warmupEpochs };
    const losses: number[] = [];
    let order: Int32Array = new Int32Array(0);
    const start = performance.now();
    for (let s = 0; s < steps; s++) {
      const epoch = Math.floor(s / stepsPerEpoch);
      const inEpoch = s % stepsPerEpoch;
      if (inEpoch === 0) order = streams.fork('shuffle', epoch).permutation(sample.count);
      const batch = sampleBatch(sample, order.subarray(inEpoch * recipe.batchSize, (inEpoch + 1) * recipe.batchSize), input.shape, input.normalization);
      const result = await step.run(batch, learningRate(policy, epoch + inEpoch / stepsPerEpoch), streams.fork('shakedrop', s));
      if (!result.applied) throw new Error(`loss became ${result.loss} at step ${s + 1}`);
      losses.push(result.loss);
      progress({ step: s + 1, steps, loss: result.loss, imagesPerSecond: ((s + 1) * recipe.batchSize * 1000) / (performance.now() - start) });
      // Between steps, a classification the page asks for meanwhile gets its turn.
      await new Promise((next) => setTimeout(next, 0));
    }
    await step.settle();
    const tuned = await encodeCheckpoint(net, { normalization: input.normalization, preprocessing: input.preprocessing, classNames: input.classNames, preset: config.preset });
    return { losses, config: JSON.stringify(tuned.config, null, 2), weights: tuned.weights };
  } finally {
    step?.dispose();
    net?.dispose();
  }
}

async function answer(request: ModelRequest, progress: (p: StepProgress) => void) {
  switch (request.kind) {
    case 'backend':
      return selectBackend(request.choice, request.threads);
    case 'load':
      return load(request.config, request.weights, request.source);
    case 'predict':
      return predict(request.input);
    case 'fine-tune':
      return fineTune(request.trainingImages, request.steps, request.seed, progress);
  }
}

self.onmessage = ({ data }: MessageEvent<{ id: number; request: ModelRequest }>) => {
  const { id, request } = data;
  const post = (message: WorkerMessage, transfer: Transferable[] = []) => self.postMessage(message, transfer);
  answer(request, (progress) => post({ id, progress })).then(
    (reply) => post({ id, reply }, 'weights' in reply && reply.weights instanceof Uint8Array ? [reply.weights.buffer] : []),
    (error: unknown) => post({ id, error: (error as Error).message ?? String(error) }),
  );
};
