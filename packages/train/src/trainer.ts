import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, PyramidError, projectKernelThreads } from '@pyramid/core';
import { type Batch, type BatchTransform, DecodePool, type TrainingData, composeBatch, cutMix, cutout, dataSize, epochBatches, isFileDataset, mixup } from '@pyramid/datasets';
import { writeError } from '@pyramid/core/node';
import { PyramidNet, type SafetensorsFile, type WeightLayout, type WeightTransfer, exportStateDict, transferWeights } from '@pyramid/pyramidnet';
import type { TensorValues } from '@pyramid/pyramidnet/node';
import { type Evaluation, evaluate } from './evaluate';
import type { Recipe } from './recipes';
import { type RunConfig, validateRunConfig } from './run-config';
import { BEST, LAST, METRICS_FILE, MetricsLog, RUN_FILE, assertRunFolderFree, createRunFolder, readRunConfig, writeRunConfig } from './run-folder';
import { lockRunFolder, recoverRunFolder } from './run-lock';
import { RunStreams, type TrainState, initialState } from './run-state';
import { loadPlotting, writePlots } from './plots';
import { type LrPolicy, learningRate } from './schedule';
import { type StepResult, TrainingStep } from './step';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './training-checkpoint';

/** Where a fine-tuning run's weights came from and what was made of each tensor. */
export interface InitReport extends WeightTransfer {
  source: string;
}

/**
 * Weights a new run starts from instead of a fresh initialisation: a model (e.g. a loaded
 * checkpoint's), or a state_dict in either layout (e.g. read from a PyTorch file). The body must fit
 * the run's architecture; a head of another class count is re-initialised (see `transferWeights`).
 */
export type InitialWeights = { model: PyramidNet; source: string } | { stateDict: SafetensorsFile; layout: WeightLayout; source: string };

export type TrainEvent =
  | {
      kind: 'start';
      config: RunConfig;
      stepsPerEpoch: number;
      resumedAt: { epoch: number; step: number } | null;
      parameters: number;
      init: InitReport | null;
      /** A resumed run given another epoch count: the counts, and the schedule's rate where it resumes. */
      extended: { from: number; to: number; lr: number } | null;
      /** How steps run: compiled by the backend (planned once, replayed), or op by op and why. */
      stepMode: { compiled: true } | { compiled: false; reason: string };
    }
  | { kind: 'step'; epoch: number; step: number; stepInEpoch: number; stepsPerEpoch: number; loss: number; accuracy: number; lr: number; imagesPerSecond: number }
  | { kind: 'evaluating'; epoch: number; done: number; total: number }
  | { kind: 'epoch'; epoch: number; step: number; trainLoss: number; trainAccuracy: number; lr: number; seconds: number; imagesPerSecond: number; evaluation: Evaluation | null; best: boolean }
  | { kind: 'checkpoint'; path: string; step: number; reason: 'epoch' | 'interval' | 'stop' | 'best' }
  | { kind: 'stopped'; step: number; epoch: number; checkpoint: string }
  | { kind: 'recovered'; changes: string[] }
  | { kind: 'done'; step: number; epoch: number; best: { top1: number; epoch: number } | null; checkpoint: string };

export interface TrainOptions {
  runDir: string;
  /** New runs: the configuration (see `createRunConfig`). Resumed runs read it from run.json. */
  config?: RunConfig;
  resume: boolean;
  /**
   * New runs: start from these weights (fine-tuning). The recipe, its schedule and the optimizer
   * start afresh; run.json records the source and the re-initialised and skipped tensors.
   */
  init?: InitialWeights;
  /**
   * Resumed runs: train to this many epochs in all, e.g. to extend a finished run. The schedule is
   * recomputed for the new count (step milestones stay where they are; cosine decays over the new
   * length) and run.json is updated before the first step.
   */
  epochs?: number;
  train: TrainingData;
  test?: TrainingData;
  /** Threads that decode image files (default: all cores). */
  decodeThreads?: number;
  /**
   * Redraw plots/ after every epoch (default true). Plots need the optional peer dependencies vega,
   * vega-lite and @resvg/resvg-js; without them the run fails before it starts, saying what to install.
   */
  plots?: boolean;
  /**
   * Let the backend compile the step (default true): WebGPU and the CPU's native kernels plan it
   * once and replay it; false runs the op-by-op step, the reference the compiled one is checked against.
   */
  compile?: boolean;
  onEvent?: (event: TrainEvent) => void;
  /** Aborting stops the run after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /**
   * Called after each write that ends an epoch (its record, best, last, plots), with the epoch
   * just finished. Tests throw from it to stop a run at each point, as a crash there would.
   */
  afterEpochWrite?: (phase: EpochWrite, epoch: number) => void;
}

/** The writes that end an epoch, in their order. */
export type EpochWrite = 'record' | 'best' | 'last' | 'plots';

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

/** A run being trained: its configuration, model, step, state and where it writes. */
interface Run {
  runDir: string;
  config: RunConfig;
  recipe: Recipe;
  trainSet: TrainingData;
  test?: TrainingData;
  model: PyramidNet;
  step: TrainingStep;
  state: TrainState;
  streams: RunStreams;
  /** Cutout, mixup or CutMix, when the recipe asks. */
  mixing: BatchTransform | null;
  policy: LrPolicy;
  stepsPerEpoch: number;
  metrics: MetricsLog;
  pool: DecodePool;
  emit: (event: TrainEvent) => void;
  signal?: AbortSignal;
  plots: boolean;
  afterEpochWrite: (phase: EpochWrite, epoch: number) => void;
  /** Releases the run folder's lock. */
  unlock: () => void;
}

/** Sums of one epoch's steps. */
interface EpochTotals {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Trains a PyramidNet by its run configuration, from scratch or from the run folder's last
 * checkpoint. A resumed run continues the same sequence of batches, augmentations and updates,
 * so it reaches the same weights as a run that never stopped.
 */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const run = await openRun(options);
  try {
    while (run.state.epoch < run.recipe.epochs) {
      const totals = await trainEpoch(run);
      if (!totals) return await stop(run, true);
      await finishEpoch(run, totals);
      if (run.signal?.aborted && !run.state.finished) return await stop(run, false);
    }
    const { state } = run;
    run.emit({ kind: 'done', step: state.step, epoch: state.epoch, best: state.bestTop1 === null ? null : { top1: state.bestTop1, epoch: state.bestEpoch! }, checkpoint: lastDir(run) });
    return { status: 'finished', model: run.model, state, lastCheckpoint: lastDir(run) };
  } finally {
    try {
      await run.pool.close();
      run.step.dispose();
    } finally {
      run.unlock();
    }
  }
}

const lastDir = (run: Run) => join(run.runDir, LAST);

/** Reads or creates the run folder, builds or restores the model, the step and the state. */
async function openRun(options: TrainOptions): Promise<Run> {
  const { runDir, resume } = options;
  const given = resume ? readRunConfig<RunConfig>(runDir) : options.config;
  if (!given) throw new ConfigError('a new run needs a configuration');
  if (resume && options.init) throw new ConfigError('a resumed run continues from its own checkpoint; initial weights are for new runs');
  if (!resume && options.epochs !== undefined) throw new ConfigError("a new run's epochs are its recipe's; epochs is for extending a resumed run");
  const config = given;
  validateRunConfig(config, resume ? join(runDir, RUN_FILE) : 'the run configuration');
  checkRunMatchesData(config, options, resume ? runDir : null);
  const mixing = batchRegularisers(config.recipe);
  const streams = new RunStreams(config.seed);
  const metrics = new MetricsLog(join(runDir, METRICS_FILE));
  const emit = options.onEvent ?? (() => undefined);
  // The plotting packages are optional: a run that would draw without them fails here, before any write.
  if (options.plots !== false) await loadPlotting();

  // Everything above only read: the folder is locked, and written, after the configuration passed.
  if (!resume) {
    assertRunFolderFree(runDir);
    await mkdir(runDir, { recursive: true }).catch((error: unknown) => {
      throw writeError(runDir, error);
    });
  }
  const unlock = lockRunFolder(runDir);
  try {
    return await openLockedRun(options, { config, mixing, streams, metrics, emit, unlock });
  } catch (error) {
    unlock();
    throw error;
  }
}

async function openLockedRun(
  options: TrainOptions,
  opened: Pick<Run, 'config' | 'mixing' | 'streams' | 'metrics' | 'emit' | 'unlock'>,
): Promise<Run> {
  const { runDir, resume } = options;
  const { streams, metrics, emit } = opened;
  let { config } = opened;
  let model: PyramidNet;
  let state: TrainState;
  let optimizer: TensorValues | null = null;
  let init: InitReport | null = null;
  let extended: { from: number; to: number; lr: number } | null = null;
  if (resume) {
    const changes = recoverRunFolder(runDir);
    if (changes.length) emit({ kind: 'recovered', changes });
  }
  if (resume && existsSync(join(runDir, LAST))) {
    ({ model, state, optimizer } = await loadTrainingCheckpoint(join(runDir, LAST)));
    const threads = kernelThreads();
    if (typeof state.threads === 'number' && threads !== null && threads !== state.threads) {
      model.dispose();
      throw new ConfigError(
        `${runDir} was trained with ${state.threads} CPU kernel thread${state.threads === 1 ? '' : 's'} and this process has ${threads}: ` +
          `the kernels' sums, and so the weights, depend on the count; resume with --threads ${state.threads} (or PYRAMID_CPU_THREADS=${state.threads})`,
      );
    }
    if (options.epochs !== undefined && options.epochs !== config.recipe.epochs) {
      const to = options.epochs;
      if (!(Number.isInteger(to) && to > state.epoch)) {
        model.dispose();
        throw new ConfigError(`${runDir} has trained ${state.epoch} epoch${state.epoch === 1 ? '' : 's'} already; epochs must be a whole number above that, got ${to}`);
      }
      const from = config.recipe.epochs;
      config = { ...config, recipe: { ...config.recipe, epochs: to } };
      try {
        validateRunConfig(config, `${runDir} extended to ${to} epochs`);
      } catch (error) {
        model.dispose();
        throw error;
      }
      const { recipe: r } = config;
      extended = { from, to, lr: learningRate({ baseLr: r.lr, epochs: to, schedule: r.schedule, warmupEpochs: r.warmupEpochs }, state.epoch + state.stepInEpoch / Math.max(1, Math.floor(dataSize(options.train) / r.batchSize))) };
      state.finished = false;
      await writeRunConfig(runDir, config);
    }
    await metrics.truncateAfter(state.step);
  } else {
    // A new run, or one stopped before its first checkpoint: that one starts over.
    if (resume) await metrics.truncateAfter(0);
    model = new PyramidNet(config.architecture, { rng: streams.fork('init') });
    if (options.init) {
      try {
        init = await initialise(model, options.init);
      } catch (error) {
        model.dispose();
        throw error;
      }
      const { source, reinitialised, skipped } = init;
      config = { ...config, init: { source, reinitialised, skipped } };
    }
    if (!resume) await createRunFolder(runDir, config);
    state = initialState(config.seed);
  }
  const { recipe } = config;
  const step = new TrainingStep(model, recipe);
  if (optimizer) step.optimizer.load(state.optimizerStarted, optimizer);
  // Mixed batches run op by op (their loss has two label sets); the others run compiled where the backend can.
  const notCompiled = options.compile === false ? 'compiling was turned off' : await step.compile(recipe.batchSize);
  const stepMode = notCompiled === null ? ({ compiled: true } as const) : { compiled: false as const, reason: notCompiled };

  const usesFiles = isFileDataset(options.train) || (options.test !== undefined && isFileDataset(options.test));
  const pool = await DecodePool.create(usesFiles ? (options.decodeThreads ?? (await import('node:os')).availableParallelism()) : 1);
  const stepsPerEpoch = Math.floor(dataSize(options.train) / recipe.batchSize);
  if (resume && options.plots !== false && state.epoch > 0) await writePlots(runDir, metrics.read());
  emit({ kind: 'start', config, stepsPerEpoch, resumedAt: resume ? { epoch: state.epoch, step: state.step } : null, parameters: model.parameterCount(), init, extended, stepMode });
  return {
    ...opened,
    runDir,
    recipe,
    trainSet: options.train,
    test: options.test,
    model,
    step,
    state,
    streams,
    policy: { baseLr: recipe.lr, epochs: recipe.epochs, schedule: recipe.schedule, warmupEpochs: recipe.warmupEpochs },
    stepsPerEpoch,
    pool,
    signal: options.signal,
    plots: options.plots !== false,
    afterEpochWrite: options.afterEpochWrite ?? (() => undefined),
  };
}

/** Loads the initial weights into a freshly initialised model. */
async function initialise(model: PyramidNet, init: InitialWeights): Promise<InitReport> {
  let file: SafetensorsFile;
  let layout: WeightLayout;
  if ('model' in init) {
    const state = await exportStateDict(init.model, 'native');
    const tensors = new Map([...state].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) }]));
    file = { tensors, metadata: {} };
    layout = 'native';
  } else {
    ({ stateDict: file, layout } = init);
  }
  return { source: init.source, ...transferWeights(model, file, layout, init.source) };
}

/** The data must be what the configuration describes: its shape, classes and number of images. */
function checkRunMatchesData(config: RunConfig, { train, test }: TrainOptions, resumedFrom: string | null): void {
  const { input, classes } = config.architecture;
  const s = train.shape;
  if (s.height !== input.height || s.width !== input.width || s.channels !== input.channels) {
    throw new ConfigError(`the model expects ${input.height}x${input.width}x${input.channels} images but ${train.name} has ${s.height}x${s.width}x${s.channels}`);
  }
  if (train.classNames.length !== classes) {
    throw new ConfigError(`the model has ${classes} classes but ${train.name} has ${train.classNames.length}`);
  }
  const { data } = config;
  const sameData = dataSize(train) === data.trainImages && train.classNames.join('\n') === data.classNames.join('\n');
  if (resumedFrom && !sameData) {
    throw new ConfigError(`${resumedFrom} was trained on ${data.name} (${data.trainImages} images), not on these ${dataSize(train)} images`);
  }
  if (dataSize(train) !== data.trainImages) throw new ConfigError(`data.trainImages is ${data.trainImages} but ${train.name} has ${dataSize(train)} images`);
  if (train.classNames.join('\n') !== data.classNames.join('\n')) throw new ConfigError(`data.classNames are not the class names of ${train.name}`);
  if (test && dataSize(test) !== data.testImages) throw new ConfigError(`data.testImages is ${data.testImages} but ${test.name} has ${dataSize(test)} images`);
}

/** Cutout, mixup and CutMix as the recipe asks (runs recorded before they existed have none). */
function batchRegularisers(recipe: Recipe): BatchTransform | null {
  const transforms: BatchTransform[] = [];
  if (recipe.cutout) transforms.push(cutout(recipe.cutout));
  if (recipe.mixup) transforms.push(mixup(recipe.mixup));
  if (recipe.cutmix) transforms.push(cutMix(recipe.cutmix, recipe.cutmixBeta ?? 1));
  return transforms.length ? composeBatch(...transforms) : null;
}

/**
 * The steps of the current epoch, from where the state stands; null when the signal stopped it
 * part-way.
 */
async function trainEpoch(run: Run): Promise<EpochTotals | null> {
  const { state, recipe, streams, trainSet, stepsPerEpoch } = run;
  const epoch = state.epoch;
  const started = performance.now();
  // A run resumed mid-epoch continues the sums its checkpoint saved, so its epoch record is the
  // one an uninterrupted run writes.
  let { lossSum, correct, seen } = state.stepInEpoch > 0 && state.epochTotals ? state.epochTotals : { lossSum: 0, correct: 0, seen: 0 };
  let windowStart = performance.now();
  let windowImages = 0;
  const batches = epochBatches(trainSet, {
    batchSize: recipe.batchSize,
    dropLast: true,
    rng: streams.fork('shuffle', epoch),
    augment: recipe.augment,
    transformRng: (index) => streams.fork('augment', epoch, index),
    normalization: run.config.data.normalization,
    skip: state.stepInEpoch,
    pool: run.pool,
  });
  // A compiled step is recorded as soon as it is asked for: the next one is started before this
  // one's loss is read, so that the device works while the host reads, accounts and loads the
  // next batch. `inFlight` is that step; op-by-op steps, checkpoints and stops wait for it.
  let inFlight: { result: Promise<StepResult>; batch: Batch; lr: number } | null = null;
  /** Accounts for the step in flight: its loss, accuracy, records and events. */
  const account = async (): Promise<void> => {
    if (!inFlight) return;
    const { result, batch, lr } = inFlight;
    inFlight = null;
    const { loss, predicted, applied } = await result;
    if (!applied) {
      throw new NonFiniteLossError(state.step + 1, epoch, loss, existsSync(lastDir(run)) ? lastDir(run) : null);
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
    state.epochTotals = { lossSum, correct, seen };
    const now = performance.now();
    const imagesPerSecond = (windowImages * 1000) / Math.max(now - windowStart, 1e-3);
    if (now - windowStart > 5000) {
      windowStart = now;
      windowImages = 0;
    }
    const accuracy = seen ? correct / seen : 0;
    run.metrics.append({ kind: 'step', step: state.step, epoch, loss, accuracy: correct / seen, lr, imagesPerSecond });
    run.emit({ kind: 'step', epoch, step: state.step, stepInEpoch: state.stepInEpoch, stepsPerEpoch, loss, accuracy, lr, imagesPerSecond });
  };
  const { checkpointEvery } = run.config;
  const checkpointDue = (step: number, stepInEpoch: number) => checkpointEvery > 0 && step % checkpointEvery === 0 && stepInEpoch < stepsPerEpoch;
  for await (const read of batches) {
    // A checkpoint after the step in flight must hold that step and nothing later: it is accounted for first.
    if (inFlight && checkpointDue(state.step + 1, state.stepInEpoch + 1)) {
      await account();
      await checkpoint(run, 'interval');
    }
    // This step's place counts the one in flight: its draws and rate are those of an unpipelined run.
    const ahead: number = inFlight ? 1 : 0;
    const number: number = state.step + ahead;
    const numberInEpoch: number = state.stepInEpoch + ahead;
    const batch: Batch = run.mixing ? run.mixing(read, trainSet.shape, streams.fork('mix', number)) : read;
    // Only a step recorded at once can follow another in flight; an op-by-op step works on the variables.
    if (!run.step.recordsAtOnce(batch)) await account();
    if (run.signal?.aborted) {
      await account();
      return null;
    }
    const lr = learningRate(run.policy, epoch + numberInEpoch / stepsPerEpoch);
    const result = run.step.run(batch, lr, streams.fork('shakedrop', number));
    await account();
    inFlight = { result, batch, lr };
    await tick();
  }
  await account();
  if (run.signal?.aborted) return null;
  return { lossSum, correct, seen, seconds: (performance.now() - started) / 1000 };
}

/** Ends an epoch: evaluation when due, the epoch's record, checkpoints (last, and best when it is), plots. */
async function finishEpoch(run: Run, totals: EpochTotals): Promise<void> {
  const { state, config } = run;
  const epoch = state.epoch;
  state.epoch++;
  state.stepInEpoch = 0;
  state.epochTotals = { lossSum: 0, correct: 0, seen: 0 };
  state.finished = state.epoch === run.recipe.epochs;
  let evaluation: Evaluation | null = null;
  let best = false;
  await run.step.settle();
  if (run.test && (state.finished || state.epoch % config.evalEvery === 0)) {
    evaluation = await evaluate(run.model, run.test, {
      normalization: config.data.normalization,
      pool: run.pool,
      onBatch: (done, total) => run.emit({ kind: 'evaluating', epoch, done, total }),
    });
    if (state.bestTop1 === null || evaluation.top1 > state.bestTop1) {
      state.bestTop1 = evaluation.top1;
      state.bestEpoch = state.epoch;
      best = true;
    }
  }
  const { lossSum, correct, seen, seconds } = totals;
  // The rate the epoch ended with (its last step's), which is what the next epoch continues from.
  const lr = learningRate(run.policy, epoch + (run.stepsPerEpoch - 1) / run.stepsPerEpoch);
  const trainLoss = seen ? lossSum / seen : 0;
  const trainAccuracy = seen ? correct / seen : 0;
  run.metrics.append({
    kind: 'epoch',
    step: state.step,
    epoch,
    trainLoss,
    trainAccuracy,
    lr,
    seconds,
    ...(evaluation ? { testLoss: evaluation.loss, top1: evaluation.top1, top5: evaluation.top5, top1Error: evaluation.top1Error, top5Error: evaluation.top5Error } : {}),
  });
  run.emit({ kind: 'epoch', epoch, step: state.step, trainLoss, trainAccuracy, lr, seconds, imagesPerSecond: seen / seconds, evaluation, best });
  run.afterEpochWrite('record', epoch);
  // best before last: last is what a resume starts from, so a crash between the two repeats this
  // epoch, which finds the same best again; the other order would leave a state naming a best
  // epoch that checkpoints/best does not hold.
  if (best) {
    await checkpoint(run, 'best');
    run.afterEpochWrite('best', epoch);
  }
  await checkpoint(run, 'epoch');
  run.afterEpochWrite('last', epoch);
  if (run.plots) await writePlots(run.runDir, run.metrics.read());
  run.afterEpochWrite('plots', epoch);
}

/** Threads of the CPU backend's project kernels, when they compute this run; else null. */
function kernelThreads(): number | null {
  return tf.getBackend() === 'cpu' ? projectKernelThreads() : null;
}

/** Saves checkpoints/last (or checkpoints/best) and says so. */
async function checkpoint(run: Run, reason: 'epoch' | 'interval' | 'stop' | 'best'): Promise<void> {
  const dir = reason === 'best' ? join(run.runDir, BEST) : lastDir(run);
  await run.step.settle();
  run.state.optimizerStarted = run.step.optimizer.state().started;
  run.state.threads = kernelThreads();
  await saveTrainingCheckpoint(dir, run.model, run.step.optimizer, run.state, run.config);
  run.emit({ kind: 'checkpoint', path: dir, step: run.state.step, reason });
}

/** Ends a run that the signal stopped; mid-epoch it first saves where it stands. */
async function stop(run: Run, midEpoch: boolean): Promise<TrainOutcome> {
  if (midEpoch) await checkpoint(run, 'stop');
  run.emit({ kind: 'stopped', step: run.state.step, epoch: run.state.epoch, checkpoint: lastDir(run) });
  return { status: 'stopped', model: run.model, state: run.state, lastCheckpoint: lastDir(run) };
}
