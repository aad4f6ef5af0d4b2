import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, PyramidError, Rng, type Normalization } from '@pyramid/core';
import { type BatchTransform, DecodePool, type TrainingData, composeBatch, cutMix, cutout, dataSize, epochBatches, isFileDataset, mixup } from '@pyramid/datasets';
import { type ArchitectureConfig, PyramidNet, batchNormParameterNames } from '@pyramid/pyramidnet';
import { type TensorValues, loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
import { type Evaluation, evaluate } from './evaluate';
import { crossEntropy, mixedCrossEntropy } from './loss';
import { Sgd } from './optimizer';
import type { Recipe } from './recipes';
import { BEST, LAST, METRICS_FILE, MetricsLog, createRunFolder, readRunConfig } from './run-folder';
import { writePlots } from './plots';
import { learningRate } from './schedule';

export const RUN_FORMAT = 'pyramidnet-ts/run';
const OPTIMIZER_PART = 'optimizer';
const STATE_PART = 'state';

/** Everything that defines a training run; stored as run.json. */
export interface RunConfig {
  format: typeof RUN_FORMAT;
  version: 1;
  preset: string | null;
  architecture: Required<ArchitectureConfig>;
  /** `source` and `options` say how to load the data again (the CLI's --data and its flags). */
  data: { name: string; source: string; options: Record<string, unknown>; trainImages: number; testImages: number; classNames: string[]; normalization: Normalization };
  recipeName: string;
  recipe: Recipe;
  seed: number;
  /** Evaluate on the test set every this many epochs (and after the last). */
  evalEvery: number;
  /** Also checkpoint every this many steps (0: at epoch ends only). */
  checkpointEvery: number;
}

/** The training state a checkpoint carries besides the weights and optimizer buffers. */
export interface TrainState {
  /** Epochs fully done. */
  epoch: number;
  /** Steps done within the current epoch. */
  stepInEpoch: number;
  /** Steps done in total. */
  step: number;
  bestTop1: number | null;
  bestEpoch: number | null;
  /** Every random draw derives from (seed, purpose, epoch or step): this is the whole RNG state. */
  rng: { algorithm: 'xoshiro128**'; seed: number; streams: string[] };
  optimizerStarted: boolean;
  finished: boolean;
}

export type TrainEvent =
  | { kind: 'start'; config: RunConfig; stepsPerEpoch: number; resumedAt: { epoch: number; step: number } | null; parameters: number }
  | { kind: 'step'; epoch: number; step: number; stepInEpoch: number; stepsPerEpoch: number; loss: number; accuracy: number; lr: number; imagesPerSecond: number }
  | { kind: 'evaluating'; epoch: number; done: number; total: number }
  | { kind: 'epoch'; epoch: number; step: number; trainLoss: number; trainAccuracy: number; lr: number; seconds: number; imagesPerSecond: number; evaluation: Evaluation | null; best: boolean }
  | { kind: 'checkpoint'; path: string; step: number; reason: 'epoch' | 'interval' | 'stop' | 'best' }
  | { kind: 'stopped'; step: number; epoch: number; checkpoint: string }
  | { kind: 'done'; step: number; epoch: number; best: { top1: number; epoch: number } | null; checkpoint: string };

export interface TrainOptions {
  runDir: string;
  /** New runs: the configuration. Resumed runs read it from run.json. */
  config?: RunConfig;
  resume: boolean;
  train: TrainingData;
  test?: TrainingData;
  /** Threads that decode image files (default: all cores). */
  decodeThreads?: number;
  /** Redraw plots/ after every epoch (default true). */
  plots?: boolean;
  onEvent?: (event: TrainEvent) => void;
  /** Aborting stops the run after the current step, with a checkpoint. */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  status: 'finished' | 'stopped';
  model: PyramidNet;
  state: TrainState;
  lastCheckpoint: string;
}

export class NonFiniteLossError extends PyramidError {
  constructor(step: number, epoch: number, value: number, checkpoint: string | null) {
    super(
      'E_NONFINITE',
      `loss became ${value} at step ${step} (epoch ${epoch + 1}); the run stopped without saving it` +
        (checkpoint ? `; the last good checkpoint is ${checkpoint}` : ''),
    );
  }
}

function trainableParameters(model: PyramidNet) {
  return model.namedTensors().filter((t) => t.kind === 'parameter').map(({ name, variable }) => ({ name, variable }));
}

function checkRunMatchesData(config: RunConfig, train: TrainingData): void {
  const { input, classes } = config.architecture;
  const s = train.shape;
  if (s.height !== input.height || s.width !== input.width || s.channels !== input.channels) {
    throw new ConfigError(`the model expects ${input.height}x${input.width}x${input.channels} images but ${train.name} has ${s.height}x${s.width}x${s.channels}`);
  }
  if (train.classNames.length !== classes) {
    throw new ConfigError(`the model has ${classes} classes but ${train.name} has ${train.classNames.length}`);
  }
}

/** A training checkpoint: the model, with the optimizer's buffers and the training state as named parts. */
async function saveTrainingCheckpoint(dir: string, model: PyramidNet, sgd: Sgd, state: TrainState, config: RunConfig): Promise<void> {
  const optimizer: TensorValues = new Map();
  for (const [name, v] of sgd.state().buffers) optimizer.set(name, { shape: v.shape, values: (await v.data()) as Float32Array });
  await saveCheckpoint(
    dir,
    model,
    { classNames: config.data.classNames, normalization: config.data.normalization, preset: config.preset ?? undefined },
    { overwrite: true, parts: { tensors: { [OPTIMIZER_PART]: optimizer }, documents: { [STATE_PART]: { ...state, run: config } } } },
  );
}

async function loadTrainingCheckpoint(dir: string): Promise<{ model: PyramidNet; optimizer: TensorValues; state: TrainState }> {
  if (!existsSync(dir)) throw new ConfigError(`${dir} is missing: the run has no complete checkpoint to resume from`);
  const loaded = await loadCheckpoint(dir, { tensors: [OPTIMIZER_PART], documents: [STATE_PART] });
  return { model: loaded.model, optimizer: loaded.tensors[OPTIMIZER_PART], state: loaded.documents[STATE_PART] as TrainState };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Cutout, mixup and CutMix as the recipe asks (runs recorded before they existed have none). */
function batchRegularisers(recipe: Recipe): BatchTransform | null {
  const transforms: BatchTransform[] = [];
  if (recipe.cutout) transforms.push(cutout(recipe.cutout));
  if (recipe.mixup && recipe.cutmix) throw new ConfigError('mixup and CutMix both mix the batch: choose one');
  if (recipe.mixup) transforms.push(mixup(recipe.mixup));
  if (recipe.cutmix) transforms.push(cutMix(recipe.cutmix, recipe.cutmixBeta ?? 1));
  return transforms.length ? composeBatch(...transforms) : null;
}

/**
 * Trains a PyramidNet by its run configuration, from scratch or from the run folder's last
 * checkpoint. A resumed run continues the same sequence of batches, augmentations and updates,
 * so it reaches the same weights as a run that never stopped.
 */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const { runDir, resume, signal } = options;
  const emit = options.onEvent ?? (() => undefined);
  const config: RunConfig = resume ? readRunConfig<RunConfig>(runDir) : options.config!;
  if (!config) throw new ConfigError('a new run needs a configuration');
  if (config.format !== RUN_FORMAT) throw new ConfigError(`${join(runDir, 'run.json')} is not a PyramidNet-TS run (format ${JSON.stringify(config.format)})`);
  checkRunMatchesData(config, options.train);
  if (resume && (dataSize(options.train) !== config.data.trainImages || options.train.classNames.join('\n') !== config.data.classNames.join('\n'))) {
    throw new ConfigError(`${runDir} was trained on ${config.data.name} (${config.data.trainImages} images), not on these ${dataSize(options.train)} images`);
  }
  const { recipe } = config;
  const mixing = batchRegularisers(recipe);
  const metrics = new MetricsLog(join(runDir, METRICS_FILE));
  const lastDir = join(runDir, LAST);
  const bestDir = join(runDir, BEST);

  let model: PyramidNet;
  let state: TrainState;
  let optimizerState: Map<string, { shape: number[]; values: Float32Array }> | null = null;
  if (resume) {
    const loaded = await loadTrainingCheckpoint(lastDir);
    model = loaded.model;
    state = loaded.state;
    optimizerState = loaded.optimizer;
    metrics.truncateAfter(state.step);
  } else {
    createRunFolder(runDir, config);
    mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
    model = new PyramidNet(config.architecture, { rng: Rng.fromSeed(config.seed).fork('init') });
    state = {
      epoch: 0,
      stepInEpoch: 0,
      step: 0,
      bestTop1: null,
      bestEpoch: null,
      rng: { algorithm: 'xoshiro128**', seed: config.seed, streams: ['init', 'shuffle/<epoch>', 'augment/<epoch>/<batch>', 'shakedrop/<step>', 'mix/<step>'] },
      optimizerStarted: false,
      finished: false,
    };
  }

  const params = trainableParameters(model);
  const sgd = new Sgd(params, {
    momentum: recipe.momentum,
    dampening: recipe.dampening,
    nesterov: recipe.nesterov,
    weightDecay: recipe.weightDecay,
    noDecay: recipe.noBnDecay ? batchNormParameterNames(model) : undefined,
  });
  if (optimizerState) sgd.load(state.optimizerStarted, optimizerState);

  const root = Rng.fromSeed(config.seed);
  const trainSet = options.train;
  const n = dataSize(trainSet);
  const stepsPerEpoch = Math.floor(n / recipe.batchSize);
  if (stepsPerEpoch < 1) throw new ConfigError(`batch size ${recipe.batchSize} is larger than the ${n} training images`);
  const policy = { baseLr: recipe.lr, epochs: recipe.epochs, schedule: recipe.schedule, warmupEpochs: recipe.warmupEpochs };
  const { height, width, channels } = trainSet.shape;
  const usesFiles = isFileDataset(trainSet) || (options.test !== undefined && isFileDataset(options.test));
  const pool = await DecodePool.create(usesFiles ? (options.decodeThreads ?? (await import('node:os')).availableParallelism()) : 1);
  const variables = params.map((p) => p.variable);

  emit({ kind: 'start', config, stepsPerEpoch, resumedAt: resume ? { epoch: state.epoch, step: state.step } : null, parameters: model.parameterCount() });

  const checkpoint = async (reason: 'epoch' | 'interval' | 'stop') => {
    state.optimizerStarted = sgd.state().started;
    await saveTrainingCheckpoint(lastDir, model, sgd, state, config);
    emit({ kind: 'checkpoint', path: lastDir, step: state.step, reason });
  };

  while (state.epoch < recipe.epochs) {
    const epoch = state.epoch;
    const started = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let windowStart = performance.now();
    let windowImages = 0;
    const stream = epochBatches(trainSet, {
      batchSize: recipe.batchSize,
      dropLast: true,
      rng: root.fork(`shuffle/${epoch}`),
      augment: recipe.augment,
      transformRng: (index) => root.fork(`augment/${epoch}/${index}`),
      normalization: config.data.normalization,
      skip: state.stepInEpoch,
      pool,
    });
    for await (const read of stream) {
      const batch = mixing ? mixing(read, trainSet.shape, root.fork(`mix/${state.step}`)) : read;
      const lr = learningRate(policy, epoch + state.stepInEpoch / stepsPerEpoch);
      const stepRng = root.fork(`shakedrop/${state.step}`);
      // The step's tensors outlive the tidy: the loss is read asynchronously (GPU backends cannot
      // read synchronously in Node) before the update is applied, so a non-finite loss changes nothing.
      const { loss: lossTensor, predictions, grads } = tf.tidy(() => {
        const x = tf.tensor4d(batch.images, [batch.size, height, width, channels]);
        const y = tf.tensor1d(batch.labels, 'int32');
        let predicted: tf.Tensor | null = null;
        const result = tf.variableGrads(() => {
          const logits = model.forward(x, { training: true, rng: stepRng });
          predicted = tf.keep(tf.argMax(logits, 1));
          if (!batch.mix) return crossEntropy(logits, y, recipe.labelSmoothing);
          return mixedCrossEntropy(logits, y, tf.tensor1d(batch.mix.labels, 'int32'), batch.mix.lambda, recipe.labelSmoothing);
        }, variables);
        return { loss: result.value, predictions: predicted as unknown as tf.Tensor, grads: result.grads };
      });
      const [lossValues, predicted] = await Promise.all([lossTensor.data(), predictions.data()]);
      const loss = lossValues[0];
      if (Number.isFinite(loss)) sgd.step(grads, lr);
      tf.dispose([lossTensor, predictions, ...Object.values(grads)]);
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(state.step + 1, epoch, loss, existsSync(lastDir) ? lastDir : null);
      }
      // Mixed batches count a prediction as lambda right for one label and 1 - lambda for the other.
      const lambda = batch.mix?.lambda ?? 1;
      for (let i = 0; i < batch.size; i++) {
        if (predicted[i] === batch.labels[i]) correct += lambda;
        if (batch.mix && predicted[i] === batch.mix.labels[i]) correct += 1 - lambda;
      }
      lossSum += loss * batch.size;
      seen += batch.size;
      windowImages += batch.size;
      state.step++;
      state.stepInEpoch++;
      const now = performance.now();
      const imagesPerSecond = (windowImages * 1000) / Math.max(now - windowStart, 1e-3);
      if (now - windowStart > 5000) {
        windowStart = now;
        windowImages = 0;
      }
      const accuracy = seen ? correct / seen : 0;
      metrics.append({ kind: 'step', step: state.step, epoch, loss, accuracy: correct / seen, lr, imagesPerSecond });
      emit({ kind: 'step', epoch, step: state.step, stepInEpoch: state.stepInEpoch, stepsPerEpoch, loss, accuracy, lr, imagesPerSecond });
      await tick();
      if (signal?.aborted) {
        await checkpoint('stop');
        emit({ kind: 'stopped', step: state.step, epoch, checkpoint: lastDir });
        await pool.close();
        return { status: 'stopped', model, state, lastCheckpoint: lastDir };
      }
      if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0 && state.stepInEpoch < stepsPerEpoch) {
        await checkpoint('interval');
      }
    }

    const seconds = (performance.now() - started) / 1000;
    state.epoch++;
    state.stepInEpoch = 0;
    const lastEpoch = state.epoch === recipe.epochs;
    let evaluation: Evaluation | null = null;
    let best = false;
    if (options.test && (lastEpoch || state.epoch % config.evalEvery === 0)) {
      evaluation = await evaluate(model, options.test, {
        normalization: config.data.normalization,
        pool,
        onBatch: (done, total) => emit({ kind: 'evaluating', epoch, done, total }),
      });
      if (state.bestTop1 === null || evaluation.top1 > state.bestTop1) {
        state.bestTop1 = evaluation.top1;
        state.bestEpoch = state.epoch;
        best = true;
      }
    }
    const lr = learningRate(policy, epoch);
    const trainLoss = seen ? lossSum / seen : 0;
    const trainAccuracy = seen ? correct / seen : 0;
    state.finished = lastEpoch;
    metrics.append({
      kind: 'epoch',
      step: state.step,
      epoch,
      trainLoss,
      trainAccuracy,
      lr,
      seconds,
      ...(evaluation ? { testLoss: evaluation.loss, top1: evaluation.top1, top5: evaluation.top5, top1Error: evaluation.top1Error, top5Error: evaluation.top5Error } : {}),
    });
    emit({ kind: 'epoch', epoch, step: state.step, trainLoss, trainAccuracy, lr, seconds, imagesPerSecond: seen / seconds, evaluation, best });
    await checkpoint('epoch');
    if (options.plots !== false) await writePlots(runDir, metrics.read());
    if (best) {
      state.optimizerStarted = sgd.state().started;
      await saveTrainingCheckpoint(bestDir, model, sgd, state, config);
      emit({ kind: 'checkpoint', path: bestDir, step: state.step, reason: 'best' });
    }
    if (signal?.aborted && !lastEpoch) {
      emit({ kind: 'stopped', step: state.step, epoch: state.epoch, checkpoint: lastDir });
      await pool.close();
      return { status: 'stopped', model, state, lastCheckpoint: lastDir };
    }
  }
  await pool.close();
  sgd.dispose();
  emit({
    kind: 'done',
    step: state.step,
    epoch: state.epoch,
    best: state.bestTop1 === null ? null : { top1: state.bestTop1, epoch: state.bestEpoch! },
    checkpoint: lastDir,
  });
  return { status: 'finished', model, state, lastCheckpoint: lastDir };
}
