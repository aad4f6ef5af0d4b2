import { Rng } from '@pyramid/core';

/**
 * The random streams of a run, by purpose. Every draw derives from (seed, purpose, epoch, batch
 * or step), so these names and the seed are the whole RNG state, and a resumed run repeats the
 * draws of one that never stopped.
 */
const STREAMS = {
  init: 'init',
  shuffle: 'shuffle/<epoch>',
  augment: 'augment/<epoch>/<batch>',
  shakedrop: 'shakedrop/<step>',
  mix: 'mix/<step>',
} as const;

export class RunStreams {
  private readonly root: Rng;

  constructor(readonly seed: number) {
    this.root = Rng.fromSeed(seed);
  }

  /** The stream of `purpose`, its placeholders filled with `values` in order. */
  fork(purpose: keyof typeof STREAMS, ...values: number[]): Rng {
    let next = 0;
    return this.root.fork(STREAMS[purpose].replace(/<\w+>/g, () => String(values[next++])));
  }

  /** The names as a checkpoint records them. */
  static names(): string[] {
    return Object.values(STREAMS);
  }
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
  /** Sums of the current epoch's steps so far (absent in checkpoints written before they were kept). */
  epochTotals?: { lossSum: number; correct: number; seen: number };
  /**
   * Threads of the CPU kernels that computed the run (null: another backend or tfjs's own
   * kernels; absent in older checkpoints). Their sums are split by thread, so a resume needs the same count.
   */
  threads?: number | null;
}

/** The state of a run that has not taken a step. */
export function initialState(seed: number): TrainState {
  return {
    epoch: 0,
    stepInEpoch: 0,
    step: 0,
    bestTop1: null,
    bestEpoch: null,
    rng: { algorithm: 'xoshiro128**', seed, streams: RunStreams.names() },
    optimizerStarted: false,
    finished: false,
    epochTotals: { lossSum: 0, correct: 0, seen: 0 },
  };
}
