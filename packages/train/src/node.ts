/**
 * @pyramid/train/node: what needs Node's file system or its threads: `train()` with its run
 * folders, checkpoints and plots, and `evaluate()` (which decodes image files on threads). The
 * main entry (the training step, the optimizer, recipes, run configurations) runs in browsers.
 */
export { train, NonFiniteLossError, type EpochWrite, type TrainEvent, type TrainOptions, type TrainOutcome, type InitialWeights, type InitReport } from './trainer';
export { lockRunFolder, recoverRunFolder, LOCK_FILE, type LockHolder } from './run-lock';
export { evaluate, type Evaluation, type EvaluateOptions } from './evaluate';
export { MetricsLog, assertRunFolderFree, createRunFolder, readRunConfig, RUN_FILE, METRICS_FILE, LAST, BEST, type MetricRecord } from './run-folder';
export { saveTrainingCheckpoint, loadTrainingCheckpoint } from './training-checkpoint';
export { writePlots } from './plots';
