import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';
import { perChannelInputs } from './batch-norm';
import { gradInputCoefficients, inferenceCoefficients, paramGradients, statsOf, sumsFromParamGradients, trainingCoefficients } from './batch-norm-math';
import type { NativeKernels } from './native';

function layout(x: TensorInfo): { rows: number; C: number } {
  const C = x.shape[x.shape.length - 1];
  return { rows: x.shape.reduce((a, d) => a * d, 1) / C, C };
}

/** The batch-norm kernels (inference, training, both gradients) on the native addon. */
export function nativeBatchNormKernels(native: NativeKernels, stock: (name: string) => KernelFunc): KernelConfig[] {
  const affine = (backend: CpuBackend, x: Float32Array, dy: Float32Array | null, rows: number, C: number, coefficients: Float32Array, relu: boolean, mask: Float32Array | null) => {
    const out = outputArray(backend, rows * C);
    const scale = coefficients.subarray(0, C);
    const [scale2, shift] = dy ? [coefficients.subarray(C, 2 * C), coefficients.subarray(2 * C)] : [null, coefficients.subarray(C, 2 * C)];
    native.channelAffine(x, dy, out, rows, C, scale, scale2, shift, relu, mask);
    return out;
  };

  const gradSums = (backend: CpuBackend, dy: TensorInfo, x: TensorInfo, mean: TensorInfo, y: TensorInfo | undefined) => {
    const { rows, C } = layout(x);
    const sumDy = new Float64Array(C);
    const sumDyX = new Float64Array(C);
    native.channelGradSums(floatValues(backend, dy), floatValues(backend, x), y ? floatValues(backend, y) : null, rows, C, floatValues(backend, mean), sumDy, sumDyX);
    return { sumDy, sumDyX };
  };

  const inference: KernelFunc = (args) => {
    const backend = args.backend as unknown as CpuBackend;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    if (!perChannelInputs(x!, [mean, variance, offset, scale])) return stock('FusedBatchNorm')(args);
    const { rows, C } = layout(x!);
    const value = (t: TensorInfo | undefined) => (t ? floatValues(backend, t) : null);
    const coefficients = inferenceCoefficients(value(mean)!, value(variance)!, value(scale), value(offset), (args.attrs as { varianceEpsilon: number }).varianceEpsilon);
    return backend.makeTensorInfo(x!.shape, 'float32', affine(backend, floatValues(backend, x!), null, rows, C, coefficients, false, null));
  };

  const training: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { x, params } = inputs as unknown as K.BatchNormTrainingInputs;
    const { epsilon, relu } = attrs as unknown as K.BatchNormAttrs;
    const { rows, C } = layout(x);
    const X = floatValues(backend, x);
    const sums = new Float64Array(C);
    native.channelSums(X, rows, C, null, sums);
    const mean = Float32Array.from(sums, (s) => s / rows);
    native.channelSums(X, rows, C, mean, sums);
    const variance = Float32Array.from(sums, (s) => s / rows);
    const coefficients = trainingCoefficients(floatValues(backend, params), mean, sums, rows, epsilon);
    return [
      backend.makeTensorInfo(x.shape, 'float32', affine(backend, X, null, rows, C, coefficients, relu === true, null)),
      backend.makeTensorInfo([C], 'float32', mean),
      backend.makeTensorInfo([C], 'float32', variance),
    ];
  };

  const gradParams: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, mean, variance, y } = inputs as unknown as K.BatchNormGradParamsInputs;
    const { rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as unknown as K.BatchNormAttrs).epsilon);
    const { sumDy, sumDyX } = gradSums(backend, dy, x, mean, y);
    return backend.makeTensorInfo([2, layout(x).C], 'float32', paramGradients(sumDy, sumDyX, rstd));
  };

  const gradInput: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, params, mean, variance, y, dParams } = inputs as unknown as K.BatchNormGradInputInputs;
    const { m, rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as unknown as K.BatchNormAttrs).epsilon);
    const { rows, C } = layout(x);
    const { sumDy, sumDyX } = dParams ? sumsFromParamGradients(floatValues(backend, dParams), rstd) : gradSums(backend, dy, x, mean, y);
    const coefficients = gradInputCoefficients(floatValues(backend, params), m, rstd, sumDy, sumDyX, rows);
    const dx = affine(backend, floatValues(backend, x), floatValues(backend, dy), rows, C, coefficients, false, y ? floatValues(backend, y) : null);
    return backend.makeTensorInfo(x.shape, 'float32', dx);
  };

  return [
    { kernelName: 'FusedBatchNorm', backendName: 'cpu', kernelFunc: inference },
    { kernelName: K.BATCH_NORM_TRAINING, backendName: 'cpu', kernelFunc: training },
    { kernelName: K.BATCH_NORM_GRAD_PARAMS, backendName: 'cpu', kernelFunc: gradParams },
    { kernelName: K.BATCH_NORM_GRAD_INPUT, backendName: 'cpu', kernelFunc: gradInput },
  ];
}
