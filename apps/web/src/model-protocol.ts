import type { CheckpointConfig } from '@pyramid/pyramidnet';

/**
 * What the page asks of its model worker (src/model-worker.ts) and what it answers. The worker
 * holds the backend, the loaded checkpoint and the fine-tuning; the page holds the DOM.
 */
export type ModelRequest =
  | { kind: 'backend'; choice: string; threads?: number }
  | { kind: 'load'; config: string; weights: Uint8Array; source: string }
  | { kind: 'predict'; input: Float32Array }
  | { kind: 'fine-tune'; trainingImages: Uint8Array; steps: number; seed: number };

export interface BackendReply {
  /** The plugin that runs: 'cpu' or 'webgpu'. */
  name: string;
  detail: string;
  notices: string[];
  /** Threads the CPU kernels run on; null on another backend. */
  threads: number | null;
}

export interface LoadReply {
  config: CheckpointConfig;
  summary: string;
}

export interface PredictReply {
  probabilities: Float32Array;
  ms: number;
}

export interface FineTuneReply {
  losses: number[];
  /** The fine-tuned checkpoint's config.json and model.safetensors. */
  config: string;
  weights: Uint8Array;
}

export interface Replies {
  backend: BackendReply;
  load: LoadReply;
  predict: PredictReply;
  'fine-tune': FineTuneReply;
}

/** A fine-tuning step done, sent while the fine-tune request runs. */
export interface StepProgress {
  step: number;
  steps: number;
  loss: number;
  imagesPerSecond: number;
}

export type WorkerMessage =
  | { id: number; reply: Replies[keyof Replies] }
  | { id: number; error: string }
  | { id: number; progress: StepProgress };
