import type { ImageShape } from './types';

/**
 * A PyramidNet as data, for backends that compile a whole training step instead of running it op
 * by op: the layers of Fig. 1 in order, each naming the state_dict entries it reads. The model
 * package describes its models this way; a backend plugin plans buffers and kernels from it.
 */

export interface ConvolutionLayer {
  op: 'conv';
  /** Weight [k, k, in, out] (HWIO). */
  weight: string;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride: number;
  /** Pixels of zero padding on every side, as PyTorch's `padding=`. */
  padding: number;
}

export interface BatchNormLayer {
  op: 'batch-norm';
  weight: string;
  bias: string;
  runningMean: string;
  runningVar: string;
  channels: number;
  epsilon: number;
  momentum: number;
  /** A ReLU after the batch norm. */
  relu: boolean;
}

export type SequenceLayer = ConvolutionLayer | BatchNormLayer;

/** A pyramidal unit: out = branch(x) + zeroPad(stride == 2 ? avgPool2x2CeilMode(x) : x). */
export interface ResidualUnitDescription {
  /** The residual branch, from the unit's input to what is added to the shortcut. */
  branch: SequenceLayer[];
  shortcut: { kind: 'zero-pad'; stride: 1 | 2; inChannels: number; outChannels: number } | { kind: 'projection' };
  /** ShakeDrop on the branch (a backend that compiles steps may not support its noise). */
  shakeDrop: boolean;
}

export interface NetworkDescription {
  input: ImageShape;
  classes: number;
  /** Convolution and batch norm before the units; `maxPool` is the ImageNet stem's 3x3/2 pool. */
  stem: { layers: SequenceLayer[]; maxPool: boolean };
  units: ResidualUnitDescription[];
  /** Batch norm (with ReLU), global average pool, fully connected. */
  head: { batchNorm: BatchNormLayer; fc: { weight: string; bias: string; inFeatures: number; outFeatures: number } };
}

/** What a compiled step needs of the training recipe; the learning rate comes with each step. */
export interface CompiledStepSettings {
  batchSize: number;
  labelSmoothing: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** Parameters without weight decay (the batch norms' with `noBnDecay`). */
  noDecay: readonly string[];
  /** Learning-rate multipliers by parameter name (the head's with `headLrMultiplier`). */
  lrScale: Readonly<Record<string, number>>;
}

/** Parameters, running statistics and momentum, by state_dict name. */
export interface NetworkState {
  parameters: Record<string, Float32Array>;
  buffers: Record<string, Float32Array>;
  /** SGD's momentum buffers; null before the first step. */
  momentum: Record<string, Float32Array> | null;
}

export interface CompiledStepResult {
  /** Mean loss of the batch. */
  loss: number;
  predicted: Int32Array;
  /** False when the loss was not finite: the update was then left out (the GPU checks before it applies). */
  applied: boolean;
}

/** A training step planned once for a network, batch size and recipe, and replayed for every batch. */
export interface CompiledTrainingStep {
  /** GPU dispatches (or kernel launches) one step records. */
  readonly dispatchesPerStep: number;
  /** Device memory the step holds: weights, optimizer state, activations and gradients. */
  readonly bytes: number;
  /** Uploads weights, running statistics and momentum (a missing momentum restarts SGD's). */
  load(state: NetworkState): void;
  /**
   * One step on NHWC float32 images and int32 labels at learning rate `lr`, recorded and submitted
   * before the promise is returned; one more step may be run before it settles.
   */
  run(images: Float32Array, labels: Int32Array, lr: number): Promise<CompiledStepResult>;
  /** Records one step without waiting for its results (the host's cost, for benchmarks). */
  record(images: Float32Array, labels: Int32Array, lr: number): void;
  /**
   * One step with every dispatch timed on the device (where it has timestamp queries; null where
   * not): the GPU time of each, with the floating-point operations of the convolutions.
   */
  profile?(images: Float32Array, labels: Int32Array, lr: number): Promise<DispatchTiming[] | null>;
  /** What the steps have made of the state. */
  read(): Promise<NetworkState>;
  dispose(): void;
}

/** Eval-mode inference (running statistics) planned once for a network and batch size, and replayed. */
export interface CompiledInference {
  /** GPU dispatches one batch records. */
  readonly dispatchesPerBatch: number;
  /** Device memory it holds. */
  readonly bytes: number;
  /** Uploads weights and running statistics. */
  load(state: Pick<NetworkState, 'parameters' | 'buffers'>): void;
  /** The logits [batch, classes] of NHWC float32 images. */
  run(images: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

export interface DispatchTiming {
  /** The kernel, e.g. 'convForward', 'convBackwardData', 'convBackwardFilter', 'bnStatistics'. */
  kernel: string;
  /** What it computed, e.g. 'layer1.0.conv1.weight'. */
  label: string;
  ms: number;
  /** Floating-point operations (2 per multiply-add) where counted; 0 elsewhere. */
  flops: number;
}

/** Why a network or recipe cannot be compiled, for a notice; the op-by-op step still runs it. */
export type CompileRefusal = { unsupported: string };
