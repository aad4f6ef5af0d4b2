export {
  type ArchitectureConfig,
  type Architecture,
  IMAGENET_STAGES,
  resolveArchitecture,
  architectureConfig,
} from './architecture';
export { PyramidNet, type BuildOptions } from './model';
export { describeNetwork, readNetworkState } from './network';
export { modelGeometry, type ModelGeometry, type UnitGeometry, type ConvGeometry, type Size } from './geometry';
export { batchNormParameterNames, batchNorms } from './batch-norms';
export { summarize, formatSummary, type ModelSummary, type LayerRow } from './summary';
export { PRESETS, findPreset, findPresetFor, presetNames, type Preset, type PaperResult } from './presets';
export {
  readSafetensors,
  writeSafetensors,
  toFloat32,
  toIntegers,
  type SafetensorsFile,
  type SafetensorsEntry,
  type SafetensorsDType,
  type TensorToWrite,
} from './safetensors';
export { exportOnnx, ONNX_OPSET, type OnnxExportOptions, type OnnxInputLayout } from './onnx';
export { exportStateDict, importStateDict, importPytorchWeights, exportPytorchWeights, readPytorchStateDict, transferWeights, type WeightTransfer, type WeightLayout } from './weights';
export { readTorchFile, writeTorchFile, isTorchFile, type TorchFileInfo } from './torch-file';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CONFIG_FILE,
  WEIGHTS_FILE,
  type CheckpointConfig,
  type InputDescription,
  defaultInputSpec,
  encodeCheckpoint,
  decodeCheckpoint,
  parseCheckpointConfig,
} from './checkpoint';
export * from '@pyramid/units';
export { ARCHITECTURE_LIMITS, architectureSchema, firstIssue, imageShapeSchema, inputSpecSchema, normalizationSchema, preprocessingSchema, weightCount } from './config-schema';
