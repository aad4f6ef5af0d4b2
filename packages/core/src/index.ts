export { engineReport, countLeakedTensors, type EngineReport } from './engine';
export { PyramidError, ConfigError, BackendUnavailableError, WeightsError, DataError, isPyramidError } from './errors';
export { Rng, assertSeed, type RngState } from './random';
export { relativeError } from './numeric';
export { type ImageShape, type Normalization, type InputSpec, type Preprocessing, inputPreprocessing } from './types';
export { type DatasetDefaults, type DatasetName, DATASETS, DATASET_NAMES, IMAGE_FOLDER_DEFAULTS, findDataset, datasetForModel } from './datasets';
export {
  type Availability,
  type BackendInfo,
  type BackendOptions,
  type BackendPlugin,
  isBackendPlugin,
} from './backends/plugin';
export {
  BackendRegistry,
  KNOWN_BACKEND_PACKAGES,
  type BackendStatus,
  type ModuleImporter,
} from './backends/registry';
export { cpuBackendPlugin } from './backends/cpu';

import { BackendRegistry } from './backends/registry';
import { cpuBackendPlugin } from './backends/cpu';
import { processWide } from './process-wide';
import type { BackendOptions, BackendPlugin } from './backends/plugin';
import type { CompiledStepSettings, NetworkDescription } from './network';

/**
 * The process-wide registry; `cpu` is registered from the start. The ESM and CommonJS builds of
 * this package, if both get loaded, share it (see processWide); the key is the one earlier
 * releases used.
 */
export const backends: BackendRegistry = processWide('backends', () => new BackendRegistry());
backends.register(cpuBackendPlugin);

export const registerBackendPlugin = (plugin: BackendPlugin): void => backends.register(plugin);
export const listBackends = () => backends.list();
export const compileTrainingStep = (network: NetworkDescription, settings: CompiledStepSettings) => backends.compileTrainingStep(network, settings);
export const compileInference = (network: NetworkDescription, batchSize: number) => backends.compileInference(network, batchSize);
export const useBackend = (name: string, options?: BackendOptions, onNotice?: (notice: string) => void) =>
  backends.use(name, options, onNotice);
export { batchNormTraining, updateRunningStatistics, type BatchNormTrainingResult, BATCH_NORM_TRAINING, BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_RUNNING_STATS } from './ops/batch-norm';
export { shortcutAdd, averagePool2x2CeilMode, appendZeroChannels, SHORTCUT_ADD, SHORTCUT_GRAD } from './ops/shortcut-add';
export { sgdUpdate, sgdUpdateAll, SGD_MOMENTUM, SGD_APPLY, SGD_STEP, type SgdUpdateOptions, type SgdUpdateAllOptions } from './ops/sgd';
export { isMissingModule } from './modules';
export { nativeKernels, projectKernelThreads, type InstalledKernels } from './cpu/kernels';
export { type ConvolutionLayout, type NativeInfo, type NativeKernels, type NativeLoad } from './cpu/native';
export { conv2dBatchNorm, CONV_BATCH_NORM, type BatchNormStatistics } from './ops/conv-batch-norm';
export type {
  BatchNormTrainingInputs,
  BatchNormAttrs,
  BatchNormGradParamsInputs,
  BatchNormGradInputInputs,
  BatchNormRunningStatsInputs,
  BatchNormRunningStatsAttrs,
  ShortcutAddInputs,
  ShortcutAttrs,
  ShortcutGradInputs,
  ShortcutGradAttrs,
  SgdInputs,
  SgdMomentumAttrs,
  SgdApplyAttrs,
  SgdStepAttrs,
  ConvBatchNormInputs,
  ConvBatchNormAttrs,
} from './ops/kernel-names';
export { KernelOverlay } from './kernel-overlay';
export { variableGradsReleasing } from './gradients';
export { spatialMean, SPATIAL_MEAN_GRAD } from './ops/spatial-mean';
export { crossEntropy } from './ops/cross-entropy';
export type {
  ConvolutionLayer,
  BatchNormLayer,
  SequenceLayer,
  ResidualUnitDescription,
  NetworkDescription,
  CompiledStepSettings,
  NetworkState,
  CompiledStepResult,
  CompiledTrainingStep,
  CompileRefusal,
  DispatchTiming,
  CompiledInference,
} from './network';
