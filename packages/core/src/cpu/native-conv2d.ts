import { type KernelConfig, type KernelFunc, type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues as values } from './backend';
import { type Shape4, geometry, supported } from './conv2d';
import { inferenceCoefficients } from './batch-norm-math';
import type { NativeKernels } from './native';
import * as K from '../ops/kernel-names';

type PadType = backend_util.PadInfo['type'] | number;
type Rounding = 'floor' | 'round' | 'ceil';

/**
 * A batch norm with given statistics folded into the HWIO filter before it: filter' = filter a and
 * bias = offset - mean a per output channel, a = scale / sqrt(var + eps).
 */
export function foldBatchNorm(filter: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array, offset: Float32Array, epsilon: number): { filter: Float32Array; bias: Float32Array } {
  const outChannels = mean.length;
  const coefficients = inferenceCoefficients(mean, variance, scale, offset, epsilon);
  const folded = new Float32Array(filter.length);
  for (let i = 0; i < filter.length; i++) folded[i] = filter[i] * coefficients[i % outChannels];
  return { filter: folded, bias: coefficients.subarray(outChannels) };
}

/** The convolution kernels on the native addon (oneDNN); other cases go to the stock kernels. */
export function nativeConv2dKernels(native: NativeKernels, stock: (name: string) => KernelFunc): KernelConfig[] {
  // The dy of the last input-gradient call: tfjs asks for a convolution's input and filter
  // gradients one after the other with the same dy, and a data id always names the same values.
  let lastDiffDst: object | null = null;

  const conv2D: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    if (!supported([x, filter], attrs)) return stock('Conv2D')(args);
    const { strides, pad, dimRoundingMode } = attrs as unknown as { strides: number | [number, number]; pad: PadType; dimRoundingMode?: Rounding };
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, strides, 1, pad as never, dimRoundingMode, false, 'channelsLast');
    const y = outputArray(backend, info.batchSize * info.outHeight * info.outWidth * info.outChannels);
    native.convForward(values(backend, x), values(backend, filter), y, Int32Array.from(geometry(info)));
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };

  const conv2DBackpropInput: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    if (!supported([dy, filter], attrs)) return stock('Conv2DBackpropInput')(args);
    const { inputShape, strides, pad, dimRoundingMode } = attrs as unknown as { inputShape: Shape4; strides: number | [number, number]; pad: never; dimRoundingMode?: Rounding };
    const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const dx = outputArray(backend, info.batchSize * info.inHeight * info.inWidth * info.inChannels);
    lastDiffDst = null;
    native.convBackwardData(values(backend, dy), values(backend, filter), dx, Int32Array.from(geometry(info)));
    lastDiffDst = dy.dataId;
    return backend.makeTensorInfo(info.inShape, 'float32', dx);
  };

  const conv2DBackpropFilter: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    if (!supported([x, dy], attrs)) return stock('Conv2DBackpropFilter')(args);
    const { filterShape, strides, pad, dimRoundingMode } = attrs as unknown as { filterShape: Shape4; strides: number | [number, number]; pad: never; dimRoundingMode?: Rounding };
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const dFilter = outputArray(backend, info.filterHeight * info.filterWidth * info.inChannels * info.outChannels);
    native.convBackwardWeights(values(backend, x), values(backend, dy), dFilter, Int32Array.from(geometry(info)), dy.dataId === lastDiffDst);
    return backend.makeTensorInfo(filterShape, 'float32', dFilter);
  };

  /** Inference conv + batch norm (+ ReLU): the batch norm folded into the filter and a bias, one oneDNN primitive. */
  const convBatchNorm: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, filter, mean, variance, scale, offset } = inputs as unknown as K.ConvBatchNormInputs;
    const { strides, pad, epsilon, relu } = attrs as unknown as K.ConvBatchNormAttrs;
    if (!supported([x, filter], {})) throw new Error(`${K.CONV_BATCH_NORM}: float32 inputs only, got ${x.dtype} and ${filter.dtype}`);
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, strides, 1, pad as never, undefined, false, 'channelsLast');
    const folded = foldBatchNorm(values(backend, filter), values(backend, mean), values(backend, variance), values(backend, scale), values(backend, offset), epsilon);
    const y = outputArray(backend, info.batchSize * info.outHeight * info.outWidth * info.outChannels);
    native.convForwardAffine(values(backend, x), folded.filter, folded.bias, y, Int32Array.from(geometry(info)), relu);
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };

  return [
    { kernelName: K.CONV_BATCH_NORM, backendName: 'cpu', kernelFunc: convBatchNorm },
    { kernelName: 'Conv2D', backendName: 'cpu', kernelFunc: conv2D },
    { kernelName: 'Conv2DBackpropInput', backendName: 'cpu', kernelFunc: conv2DBackpropInput },
    { kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: conv2DBackpropFilter },
  ];
}
