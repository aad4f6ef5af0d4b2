/**
 * @pyramid/pyramidnet/node: checkpoint folders on disk. The main entry (models, presets,
 * checkpoints as bytes) stays usable in browsers.
 */
export { saveCheckpoint, loadCheckpoint, type CheckpointParts, type TensorValues, type SaveCheckpointOptions, type LoadedCheckpoint } from './checkpoint-folder';
