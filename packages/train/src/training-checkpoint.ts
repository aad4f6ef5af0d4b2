import { existsSync } from 'node:fs';
import { ConfigError } from '@pyramid/core';
import type { PyramidNet } from '@pyramid/pyramidnet';
import { type TensorValues, loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
import type { Sgd } from './optimizer';
import type { RunConfig } from './run-config';
import type { TrainState } from './run-state';

/** A training checkpoint is a model checkpoint with these parts: the optimizer's buffers and the training state. */
const OPTIMIZER_PART = 'optimizer';
const STATE_PART = 'state';

/** Writes the model, the optimizer's buffers and the state (with the run configuration) into `dir`, replacing it atomically. */
export async function saveTrainingCheckpoint(dir: string, model: PyramidNet, optimizer: Sgd, state: TrainState, config: RunConfig): Promise<void> {
  const buffers: TensorValues = new Map();
  for (const [name, v] of optimizer.state().buffers) buffers.set(name, { shape: v.shape, values: (await v.data()) as Float32Array });
  await saveCheckpoint(
    dir,
    model,
    { classNames: config.data.classNames, normalization: config.data.normalization, preprocessing: config.data.preprocessing, preset: config.preset ?? undefined },
    { overwrite: true, parts: { tensors: { [OPTIMIZER_PART]: buffers }, documents: { [STATE_PART]: { ...state, run: config } } } },
  );
}

export async function loadTrainingCheckpoint(dir: string): Promise<{ model: PyramidNet; optimizer: TensorValues; state: TrainState }> {
  if (!existsSync(dir)) throw new ConfigError(`${dir} is missing: the run has no complete checkpoint to resume from`);
  const loaded = await loadCheckpoint(dir, { tensors: [OPTIMIZER_PART], documents: [STATE_PART] });
  return { model: loaded.model, optimizer: loaded.tensors[OPTIMIZER_PART], state: loaded.documents[STATE_PART] as TrainState };
}
