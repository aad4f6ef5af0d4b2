import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';
import { perChannelInputs } from './batch-norm';
import { gradInputCoefficients, inferenceCoefficients, paramGradients, statsOf, sumsFromParamGradients, trainingCoefficients } from './batch-norm-math';
import type { NativeKernels } from './native';

/**
 * The batch norm of NHWC arrays on the native addon, as the kernels below and the compiled step
 * (compiled-step.ts) both run it: one implementation, so that the two give the same bits.
 */

/** out = in a + b (+ x a2 with dy) per channel, from the coefficients [a | b] or [a | a2 | b]. */
function channelAffine(native: NativeKernels, x: Float32Array, dy: Float32Array | null, out: Float32Array, rows: number, C: number, coefficients: Float32Array, relu: boolean, mask: Float32Array | null): void {
  const scale = coefficients.subarray(0, C);
  const [scale2, shift] = dy ? [coefficients.subarray(C, 2 * C), coefficients.subarray(2 * C)] : [null, coefficients.subarray(C, 2 * C)];
  native.channelAffine(x, dy, out, rows, C, scale, scale2, shift, relu, mask);
}

/** Eval-mode batch norm (then ReLU) of x [rows, C] into `out`, from inferenceCoefficients' [a | b]. */
export function batchNormInferenceInto(native: NativeKernels, x: Float32Array, rows: number, C: number, coefficients: Float32Array, relu: boolean, out: Float32Array): void {
  channelAffine(native, x, null, out, rows, C, coefficients, relu, null);
}

/** Training-mode batch norm (then ReLU) of x [rows, C] into `out`, from params = [scale; offset]; the batch mean and biased variance. */
export function batchNormTrainingInto(native: NativeKernels, x: Float32Array, rows: number, C: number, params: Float32Array, epsilon: number, relu: boolean, out: Float32Array): { mean: Float32Array; variance: Float32Array } {
  const sums = new Float64Array(C);
  native.channelSums(x, rows, C, null, sums);
  const mean = Float32Array.from(sums, (s) => s / rows);
  native.channelSums(x, rows, C, mean, sums);
  const variance = Float32Array.from(sums, (s) => s / rows);
  channelAffine(native, x, null, out, rows, C, trainingCoefficients(params, mean, sums, rows, epsilon), relu, null);
  return { mean, variance };
}

/** What the backward pass of one batch norm reads: its input, its output where a ReLU masks the gradient, and the batch statistics. */
export interface BatchNormSaved {
  x: Float32Array;
  y: Float32Array | null;
  rows: number;
  C: number;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** sum(dy) and sum(dy (x - mean)) per channel, in double, dy masked by the ReLU's output where there is one. */
export function batchNormGradSums(native: NativeKernels, dy: Float32Array, s: BatchNormSaved): { sumDy: Float64Array; sumDyX: Float64Array } {
  const sumDy = new Float64Array(s.C);
  const sumDyX = new Float64Array(s.C);
  native.channelGradSums(dy, s.x, s.y, s.rows, s.C, s.mean, sumDy, sumDyX);
  return { sumDy, sumDyX };
}

/** [d scale; d offset] of a batch norm, given the gradient of its output. */
export function batchNormGradParams(native: NativeKernels, dy: Float32Array, s: BatchNormSaved): Float32Array {
  const { sumDy, sumDyX } = batchNormGradSums(native, dy, s);
  return paramGradients(sumDy, sumDyX, statsOf(s.mean, s.variance, s.epsilon).rstd);
}

/**
 * The input gradient of a batch norm into `out`. With `dParams` (batchNormGradParams' output) its
 * sums come back from those, as the op passes them; without, they are taken again.
 */
export function batchNormGradInputInto(native: NativeKernels, dy: Float32Array, s: BatchNormSaved, params: Float32Array, dParams: Float32Array | null, out: Float32Array): void {
  const { m, rstd } = statsOf(s.mean, s.variance, s.epsilon);
  const { sumDy, sumDyX } = dParams ? sumsFromParamGradients(dParams, rstd) : batchNormGradSums(native, dy, s);
  channelAffine(native, s.x, dy, out, s.rows, s.C, gradInputCoefficients(params, m, rstd, sumDy, sumDyX, s.rows), false, s.y);
}

function layout(x: TensorInfo): { rows: number; C: number } {
  const C = x.shape[x.shape.length - 1];
  return { rows: x.shape.reduce((a, d) => a * d, 1) / C, C };
}

/** The batch-norm kernels (inference, training, both gradients) on the native addon. */
export function nativeBatchNormKernels(native: NativeKernels, stock: (name: string) => KernelFunc): KernelConfig[] {
  const saved = (backend: CpuBackend, inputs: K.BatchNormGradParamsInputs, epsilon: number): BatchNormSaved => ({
    ...layout(inputs.x),
    x: floatValues(backend, inputs.x),
    y: inputs.y ? floatValues(backend, inputs.y) : null,
    mean: floatValues(backend, inputs.mean),
    variance: floatValues(backend, inputs.variance),
    epsilon,
  });

  const inference: KernelFunc = (args) => {
    const backend = args.backend as unknown as CpuBackend;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    if (!perChannelInputs(x!, [mean, variance, offset, scale])) return stock('FusedBatchNorm')(args);
    const { rows, C } = layout(x!);
    const value = (t: TensorInfo | undefined) => (t ? floatValues(backend, t) : null);
    const coefficients = inferenceCoefficients(value(mean)!, value(variance)!, value(scale), value(offset), (args.attrs as { varianceEpsilon: number }).varianceEpsilon);
    const out = outputArray(backend, rows * C);
    batchNormInferenceInto(native, floatValues(backend, x!), rows, C, coefficients, false, out);
    return backend.makeTensorInfo(x!.shape, 'float32', out);
  };

  const training: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { x, params } = inputs as unknown as K.BatchNormTrainingInputs;
    const { epsilon, relu } = attrs as unknown as K.BatchNormAttrs;
    const { rows, C } = layout(x);
    const out = outputArray(backend, rows * C);
    const { mean, variance } = batchNormTrainingInto(native, floatValues(backend, x), rows, C, floatValues(backend, params), epsilon, relu === true, out);
    return [backend.makeTensorInfo(x.shape, 'float32', out), backend.makeTensorInfo([C], 'float32', mean), backend.makeTensorInfo([C], 'float32', variance)];
  };

  const gradParams: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const named = inputs as unknown as K.BatchNormGradParamsInputs;
    const s = saved(backend, named, (attrs as unknown as K.BatchNormAttrs).epsilon);
    return backend.makeTensorInfo([2, s.C], 'float32', batchNormGradParams(native, floatValues(backend, named.dy), s));
  };

  const gradInput: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const named = inputs as unknown as K.BatchNormGradInputInputs;
    const s = saved(backend, named, (attrs as unknown as K.BatchNormAttrs).epsilon);
    const out = outputArray(backend, s.rows * s.C);
    batchNormGradInputInto(native, floatValues(backend, named.dy), s, floatValues(backend, named.params), named.dParams ? floatValues(backend, named.dParams) : null, out);
    return backend.makeTensorInfo(named.x.shape, 'float32', out);
  };

  return [
    { kernelName: 'FusedBatchNorm', backendName: 'cpu', kernelFunc: inference },
    { kernelName: K.BATCH_NORM_TRAINING, backendName: 'cpu', kernelFunc: training },
    { kernelName: K.BATCH_NORM_GRAD_PARAMS, backendName: 'cpu', kernelFunc: gradParams },
    { kernelName: K.BATCH_NORM_GRAD_INPUT, backendName: 'cpu', kernelFunc: gradInput },
  ];
}
