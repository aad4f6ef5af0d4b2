import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The project's kernels: each name with its inputs and attributes, typed once and shared by the
 * ops that run them and by every backend that registers them (as tfjs's kernel_names.ts does).
 * Shapes are NHWC; per-channel vectors have C entries. Without a backend kernel, the ops compute
 * the same maths with tfjs ops.
 */

/** Training-mode batch norm (biased batch statistics), then ReLU when `relu`: -> [y, mean, variance]. */
export const BATCH_NORM_TRAINING = 'PyramidBatchNormTraining';
/** params: [2, C] = stack(scale, offset). */
export interface BatchNormTrainingInputs {
  params: TensorInfo;
  x: TensorInfo;
}
export interface BatchNormAttrs {
  epsilon: number;
  relu?: boolean;
}

/** -> [2, C] = stack(d scale, d offset); with `y` (the ReLU output) dy counts only where y > 0. */
export const BATCH_NORM_GRAD_PARAMS = 'PyramidBatchNormGradParams';
export interface BatchNormGradParamsInputs {
  dy: TensorInfo;
  x: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  y?: TensorInfo;
}

/** -> dx; with `dParams` (GradParams' output) the sums are reused instead of recomputed. */
export const BATCH_NORM_GRAD_INPUT = 'PyramidBatchNormGradInput';
export interface BatchNormGradInputInputs extends BatchNormGradParamsInputs {
  params: TensorInfo;
  dParams?: TensorInfo;
}

/**
 * The running statistics' update after a training-mode batch norm, PyTorch's:
 *   running' = (1 - momentum) running + momentum unbias statistic, unbias = 1 for the mean and
 *   n / (n - 1) for the variance -> [runningMean', runningVar'].
 */
export const BATCH_NORM_RUNNING_STATS = 'PyramidBatchNormRunningStats';
export interface BatchNormRunningStatsInputs {
  runningMean: TensorInfo;
  runningVar: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
}
export interface BatchNormRunningStatsAttrs {
  momentum: number;
  /** n / (n - 1) for n values per channel (1 when n is 1). */
  unbias: number;
}

/** out = residual + appendZeroChannels(stride 2 ? averagePool2x2CeilMode(x) : x). */
export const SHORTCUT_ADD = 'PyramidShortcutAdd';
export interface ShortcutAddInputs {
  residual: TensorInfo;
  x: TensorInfo;
}
export interface ShortcutAttrs {
  stride: 1 | 2;
}

/** -> dx of the shortcut (the residual's gradient is dy itself). */
export const SHORTCUT_GRAD = 'PyramidShortcutGrad';
export interface ShortcutGradInputs {
  dy: TensorInfo;
}
export interface ShortcutGradAttrs extends ShortcutAttrs {
  xShape: number[];
}

/** -> dx [N, H, W, C] of the global average pool: dy [N, C] / (H W) at every pixel. */
export const SPATIAL_MEAN_GRAD = 'PyramidSpatialMeanGrad';
export interface SpatialMeanGradInputs {
  dy: TensorInfo;
}
export interface SpatialMeanGradAttrs {
  height: number;
  width: number;
}

/** -> the new momentum buffer: g = grad + weightDecay param; first ? g : momentum buffer + (1 - dampening) g. */
export const SGD_MOMENTUM = 'PyramidSgdMomentum';
export interface SgdInputs {
  param: TensorInfo;
  grad: TensorInfo;
  buffer: TensorInfo;
}
export interface SgdMomentumAttrs {
  momentum: number;
  dampening: number;
  weightDecay: number;
  first: boolean;
}

/** -> the new parameter: param - lr (nesterov ? g + momentum buffer : buffer). */
export const SGD_APPLY = 'PyramidSgdApply';
export interface SgdApplyAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * The whole SGD update of many parameters at once, each as PyramidSgdMomentum then PyramidSgdApply
 * compute it, so that a backend can run it in one or two dispatches instead of two per parameter.
 * Inputs `param0`, `grad0`, `buffer0`, `param1`, ... (`count` of each) -> [param'0 .. param'(count-1),
 * buffer'0 .. buffer'(count-1)].
 */
export const SGD_STEP = 'PyramidSgdStep';
export interface SgdStepAttrs {
  count: number;
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  first: boolean;
  /** The weight decay of each parameter. */
  weightDecays: number[];
}

/** Inference: conv (HWIO filter), then batch norm with the given statistics, then ReLU when `relu`. */
export const CONV_BATCH_NORM = 'PyramidConv2DBatchNorm';
export interface ConvBatchNormInputs {
  x: TensorInfo;
  filter: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  scale: TensorInfo;
  offset: TensorInfo;
}
export interface ConvBatchNormAttrs {
  strides: number;
  pad: number | 'same' | 'valid';
  epsilon: number;
  relu: boolean;
}
