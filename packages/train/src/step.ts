import * as tf from '@tensorflow/tfjs-core';
import { type CompiledTrainingStep, type Rng, compileTrainingStep, variableGradsReleasing } from '@pyramid/core';
import type { Batch } from '@pyramid/datasets';
import { type PyramidNet, batchNormParameterNames, batchNorms, describeNetwork, readNetworkState } from '@pyramid/pyramidnet';
import { crossEntropy, mixedCrossEntropy } from './loss';
import { type NamedVariable, Sgd } from './optimizer';
import type { Recipe } from './recipes';

/** What a step trains on: normalised NHWC pixels and labels, as the data pipeline delivers them. */
export type StepBatch = Pick<Batch, 'images' | 'labels' | 'size' | 'mix'>;

/** The parts of a recipe a single step uses; the learning rate comes with each step. */
export type StepSettings = Pick<Recipe, 'labelSmoothing' | 'momentum' | 'dampening' | 'nesterov' | 'weightDecay' | 'noBnDecay' | 'freeze' | 'headLrMultiplier'>;

/** Forward, loss and backward of one batch, as tensors the caller disposes. */
export type StepGradients = {
  loss: tf.Scalar;
  /** The predicted class of each image (argmax of the logits). */
  predicted: tf.Tensor1D;
  /** Gradients by tfjs variable name. */
  grads: tf.NamedTensorMap;
};

export interface StepResult {
  loss: number;
  predicted: Int32Array;
  /** False when the loss was not finite: the update was then left out. */
  applied: boolean;
}

const HEAD = ['fc.weight', 'fc.bias'];

/** Whether `name` is frozen by `freeze`: the stem and stages ('body'), or all but the last stage. */
function isFrozen(model: PyramidNet, name: string, freeze: StepSettings['freeze']): boolean {
  if (!freeze || freeze === 'none') return false;
  if (freeze === 'body') return !HEAD.includes(name);
  const lastStage = `layer${model.stages.length}.`;
  return !HEAD.includes(name) && !name.startsWith(lastStage) && !name.startsWith('bn_final.');
}

/** The parameters SGD updates: all of them, or those `freeze` leaves. */
export function trainableParameters(model: PyramidNet, freeze?: StepSettings['freeze']): NamedVariable[] {
  return model
    .namedTensors()
    .filter((t) => t.kind === 'parameter' && !isFrozen(model, t.name, freeze))
    .map(({ name, variable }) => ({ name, variable }));
}

/**
 * One training step of a model: training-mode forward pass (batch statistics, ShakeDrop noise),
 * softmax cross-entropy with the recipe's label smoothing (mixed as mixup and CutMix ask), the
 * backward pass, and SGD as PyTorch computes it. The trainer, the benchmark, the conformance
 * suite and the web page all run this step.
 */
export class TrainingStep {
  readonly optimizer: Sgd;
  private readonly variables: tf.Variable[];
  /** The backend's compiled step for one batch size, when `compile` made one. */
  private compiled: { step: CompiledTrainingStep; batchSize: number } | null = null;
  /** Whether the model or optimizer changed since the compiled step's buffers were loaded. */
  private compiledStale = true;
  /** Compiled steps the model's variables do not show yet. */
  private unsettled = 0;

  constructor(
    readonly model: PyramidNet,
    readonly settings: StepSettings,
  ) {
    const params = trainableParameters(model, settings.freeze);
    this.variables = params.map((p) => p.variable);
    const headLr = settings.headLrMultiplier ?? 1;
    this.optimizer = new Sgd(params, {
      momentum: settings.momentum,
      dampening: settings.dampening,
      nesterov: settings.nesterov,
      weightDecay: settings.weightDecay,
      noDecay: settings.noBnDecay ? batchNormParameterNames(model) : undefined,
      lrScale: headLr !== 1 ? new Map(HEAD.map((name) => [name, headLr])) : undefined,
    });
  }

  /**
   * Lets the active backend compile the whole step for batches of `batchSize` (WebGPU plans it
   * once and replays it); later batches of that size without mixing run compiled. Returns null
   * when it did, else why not, in words (the op-by-op step then runs every batch). While compiled
   * steps run, the model's variables and the optimizer's buffers lag behind: `settle` brings them
   * up to date, and reading the model without it reads the weights of before.
   */
  async compile(batchSize: number): Promise<string | null> {
    if (this.settings.freeze && this.settings.freeze !== 'none') return 'frozen parameters are not compiled';
    const headLr = this.settings.headLrMultiplier ?? 1;
    const result = await compileTrainingStep(describeNetwork(this.model), {
      batchSize,
      labelSmoothing: this.settings.labelSmoothing,
      momentum: this.settings.momentum,
      dampening: this.settings.dampening,
      nesterov: this.settings.nesterov,
      weightDecay: this.settings.weightDecay,
      noDecay: this.settings.noBnDecay ? [...batchNormParameterNames(this.model)] : [],
      lrScale: headLr !== 1 ? Object.fromEntries(HEAD.map((name) => [name, headLr])) : {},
    });
    if ('unsupported' in result) return result.unsupported;
    this.compiled?.step.dispose();
    this.compiled = { step: result, batchSize };
    this.compiledStale = true;
    return null;
  }

  /** Whether `run` records this batch's step before it returns (compiled, its weights loaded), so that another may follow before it settles. */
  recordsAtOnce(batch: StepBatch): boolean {
    return this.compiled?.batchSize === batch.size && !batch.mix && !this.compiledStale;
  }

  /** The compiled step, when `compile` made one. */
  compiledStep(): CompiledTrainingStep | null {
    return this.compiled?.step ?? null;
  }

  /** Brings the model's variables and the optimizer's buffers up to the compiled steps' state. */
  async settle(): Promise<void> {
    if (!this.compiled || this.unsettled === 0) return;
    const state = await this.compiled.step.read();
    for (const { name, variable } of this.model.namedTensors()) {
      const values = state.parameters[name] ?? state.buffers[name];
      if (values) variable.assign(tf.tidy(() => tf.tensor(values, variable.shape)));
    }
    for (const [, bn] of batchNorms(this.model)) bn.batchesTracked += this.unsettled;
    if (state.momentum) {
      const shapes = new Map(this.model.namedTensors().map((t) => [t.name, t.variable.shape]));
      this.optimizer.load(true, new Map(Object.entries(state.momentum).map(([name, values]) => [name, { shape: shapes.get(name)!, values }])));
    }
    this.unsettled = 0;
  }

  /** Loads the model and optimizer into the compiled step's buffers. */
  private async upload(step: CompiledTrainingStep): Promise<void> {
    const { parameters, buffers } = await readNetworkState(this.model);
    const { started, buffers: momentumBuffers } = this.optimizer.state();
    let momentum: Record<string, Float32Array> | null = null;
    if (started && momentumBuffers.size) {
      momentum = {};
      for (const [name, v] of momentumBuffers) momentum[name] = (await v.data()) as Float32Array;
    }
    step.load({ parameters, buffers, momentum });
    this.compiledStale = false;
  }

  /** The step's loss of a batch's logits: cross-entropy with label smoothing, mixed when the batch is. */
  loss(logits: tf.Tensor2D, labels: tf.Tensor1D, mix?: StepBatch['mix']): tf.Scalar {
    const { labelSmoothing } = this.settings;
    if (!mix) return crossEntropy(logits, labels, labelSmoothing);
    return mixedCrossEntropy(logits, labels, tf.tensor1d(mix.labels, 'int32'), mix.lambda, labelSmoothing);
  }

  /**
   * Forward, loss and backward of a batch. Nothing changes but the batch norms' running
   * statistics; the tensors outlive any tidy so that the loss can be read asynchronously (GPU
   * backends cannot read synchronously in Node) before the update is applied.
   */
  gradients(batch: StepBatch, rng?: Rng): StepGradients {
    const { height, width, channels } = this.model.architecture.input;
    return tf.tidy(() => this.tensorGradients(tf.tensor4d(batch.images, [batch.size, height, width, channels]), tf.tensor1d(batch.labels, 'int32'), batch.mix, rng));
  }

  /** `gradients` of a batch already on the backend. */
  tensorGradients(images: tf.Tensor4D, labels: tf.Tensor1D, mix?: StepBatch['mix'], rng?: Rng): StepGradients {
    return tf.tidy(() => {
      let predicted: tf.Tensor1D | null = null;
      const { value, grads } = variableGradsReleasing(() => {
        const logits = this.model.forward(images, { training: true, rng });
        predicted = tf.keep(tf.argMax(logits, 1)) as tf.Tensor1D;
        return this.loss(logits, labels, mix);
      }, this.variables);
      return { loss: value, predicted: predicted!, grads };
    });
  }

  /** The SGD update with learning rate `lr`. */
  apply(grads: tf.NamedTensorMap, lr: number): void {
    this.optimizer.step(grads, lr);
  }

  /**
   * One whole step at learning rate `lr`; `rng` draws the step's ShakeDrop noise. A non-finite
   * loss leaves the weights and the optimizer as they were (`applied` is then false): what to do
   * about it is the caller's choice. A compiled step is recorded before this returns its promise,
   * so the caller may start the next step before awaiting this one's result (at most one ahead;
   * `settle` only once both are awaited).
   */
  async run(batch: StepBatch, lr: number, rng?: Rng): Promise<StepResult> {
    const compiled = this.compiled;
    if (compiled && compiled.batchSize === batch.size && !batch.mix) {
      if (this.compiledStale) await this.upload(compiled.step);
      // Counted as it is recorded: a step in flight is already part of what `settle` would read.
      const result = compiled.step.run(batch.images, batch.labels, lr);
      this.unsettled++;
      return result;
    }
    // The op-by-op step works on the variables: they catch up first, and the compiled step reloads after.
    await this.settle();
    this.compiledStale = true;
    const { loss, predicted, grads } = this.gradients(batch, rng);
    const [lossValues, predictions] = await Promise.all([loss.data(), predicted.data()]);
    const value = lossValues[0];
    const applied = Number.isFinite(value);
    if (applied) this.apply(grads, lr);
    tf.dispose([loss, predicted, ...Object.values(grads)]);
    return { loss: value, predicted: predictions as Int32Array, applied };
  }

  /** Frees the optimizer's buffers and the compiled step (the model stays). */
  dispose(): void {
    this.compiled?.step.dispose();
    this.compiled = null;
    this.optimizer.dispose();
  }
}
