import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues, threadsForElements } from './backend';
import { type KernelRuntime, NONE } from './runtime';
import { gradInputCoefficients, inferenceCoefficients, paramGradients, statsOf, sumsFromParamGradients, trainingCoefficients } from './batch-norm-math';

/** Adds the per-thread f64 partial sums (threads x width) into one array. */
function combine(rt: KernelRuntime, partials: number, threads: number, width: number): Float64Array {
  const all = rt.doubles(partials, threads * width);
  const out = new Float64Array(width);
  for (let t = 0; t < threads; t++) for (let c = 0; c < width; c++) out[c] += all[t * width + c];
  return out;
}


/** FusedBatchNorm is ours for float32 input with per-channel vectors (or none) only. */
export function perChannelInputs(x: TensorInfo, vectors: (TensorInfo | undefined)[]): boolean {
  const C = x.shape[x.shape.length - 1];
  const perChannel = (t: TensorInfo | undefined) => t == null || (t.shape.length === 1 && t.shape[0] === C && t.dtype === 'float32');
  return x.dtype === 'float32' && x.shape.length >= 2 && vectors.every(perChannel);
}

export function batchNormKernels(rt: KernelRuntime, stock: (name: string) => KernelFunc): KernelConfig[] {
  /**
   * tfjs's FusedBatchNorm (inference with given statistics) for NHWC float32 input with per-channel
   * vectors: one pass of y = x * a + b, a = scale / sqrt(var + eps), b = offset - mean * a.
   */
  const inference: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>;
    if (!perChannelInputs(x!, [mean, variance, offset, scale])) return stock('FusedBatchNorm')(args);
    const C = x!.shape[x!.shape.length - 1];
    const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const m = floatValues(backend, mean!);
    const v = floatValues(backend, variance!);
    const g = scale ? floatValues(backend, scale) : null;
    const o = offset ? floatValues(backend, offset) : null;
    const rows = x!.shape.reduce((a, d) => a * d, 1) / C;
    const threads = threadsForElements(rt, rows * C);
    rt.reset();
    const X = rt.put(floatValues(backend, x!));
    const Y = rt.alloc(rows * C * 4);
    const coefficients = rt.alloc(2 * C * 4);
    rt.floats().set(inferenceCoefficients(m, v, g, o, epsilon), coefficients / 4);
    rt.run('channelAffine', { x: X, dy: NONE, y: Y, rows, channels: C, scale: coefficients, scale2: NONE, shift: coefficients + C * 4, relu: 0, mask: NONE }, threads);
    return backend.makeTensorInfo(x!.shape, 'float32', rt.take(Y, rows * C));
  };

  const training: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { x, params } = inputs as unknown as K.BatchNormTrainingInputs;
    const { epsilon, relu } = attrs as unknown as K.BatchNormAttrs;
    const C = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((a, d) => a * d, 1) / C;
    const threads = threadsForElements(rt, rows * C);
    rt.reset();
    const X = rt.put(floatValues(backend, x));
    const Y = rt.alloc(rows * C * 4);
    const partials = rt.alloc(threads * C * 8);
    const acc = rt.alloc(threads * C * 4);
    const center = rt.alloc(C * 4);
    const coefficients = rt.alloc(2 * C * 4);

    rt.run('channelSums', { x: X, rows, channels: C, center: NONE, partials, acc }, threads);
    const mean = Float32Array.from(combine(rt, partials, threads, C), (s) => s / rows);
    rt.floats().set(mean, center / 4);
    rt.run('channelSums', { x: X, rows, channels: C, center, partials, acc }, threads);
    const sq = combine(rt, partials, threads, C);
    const variance = Float32Array.from(sq, (s) => s / rows);

    rt.floats().set(trainingCoefficients(floatValues(backend, params), mean, sq, rows, epsilon), coefficients / 4);
    rt.run('channelAffine', { x: X, dy: NONE, y: Y, rows, channels: C, scale: coefficients, scale2: NONE, shift: coefficients + C * 4, relu: relu ? 1 : 0, mask: NONE }, threads);
    return [
      backend.makeTensorInfo(x.shape, 'float32', rt.take(Y, rows * C)),
      backend.makeTensorInfo([C], 'float32', mean),
      backend.makeTensorInfo([C], 'float32', variance),
    ];
  };

  /** sum(dy) and sum(dy * (x - mean)) per channel, dy masked by y > 0 when `y` (a ReLU output) is given. */
  const gradSums = (backend: CpuBackend, dy: TensorInfo, x: TensorInfo, mean: TensorInfo, y: TensorInfo | undefined) => {
    const C = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((a, d) => a * d, 1) / C;
    const threads = threadsForElements(rt, rows * C);
    rt.reset();
    const dY = rt.put(floatValues(backend, dy));
    const X = rt.put(floatValues(backend, x));
    const M = rt.put(floatValues(backend, mean));
    const mask = y ? rt.put(floatValues(backend, y)) : NONE;
    const partials = rt.alloc(threads * 2 * C * 8);
    const acc = rt.alloc(threads * 2 * C * 4);
    rt.run('channelGradSums', { dy: dY, x: X, rows, channels: C, center: M, partials, acc, mask }, threads);
    const sums = combine(rt, partials, threads, 2 * C);
    return { sumDy: sums.subarray(0, C), sumDyX: sums.subarray(C), rows, C, threads, dY, X, mask };
  };

  const gradParams: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, mean, variance, y } = inputs as unknown as K.BatchNormGradParamsInputs;
    const { rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as unknown as K.BatchNormAttrs).epsilon);
    const { sumDy, sumDyX, C } = gradSums(backend, dy, x, mean, y);
    return backend.makeTensorInfo([2, C], 'float32', paramGradients(sumDy, sumDyX, rstd));
  };

  const gradInput: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, params, mean, variance, y, dParams } = inputs as unknown as K.BatchNormGradInputInputs;
    const { m, rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as unknown as K.BatchNormAttrs).epsilon);
    const C = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((a, d) => a * d, 1) / C;
    let sumDy: Float64Array;
    let sumDyX: Float64Array;
    let dY: number;
    let X: number;
    let mask: number;
    let threads: number;
    if (dParams) {
      // d scale = sum(dy * (x - mean)) * rstd and d offset = sum(dy): the sums, already computed.
      ({ sumDy, sumDyX } = sumsFromParamGradients(floatValues(backend, dParams), rstd));
      threads = threadsForElements(rt, rows * C);
      rt.reset();
      dY = rt.put(floatValues(backend, dy));
      X = rt.put(floatValues(backend, x));
      mask = y ? rt.put(floatValues(backend, y)) : NONE;
    } else {
      ({ sumDy, sumDyX, dY, X, threads, mask } = gradSums(backend, dy, x, mean, y));
    }
    const coefficients = rt.alloc(3 * C * 4);
    rt.floats().set(gradInputCoefficients(floatValues(backend, params), m, rstd, sumDy, sumDyX, rows), coefficients / 4);
    const dX = rt.alloc(rows * C * 4);
    rt.run('channelAffine', { x: X, dy: dY, y: dX, rows, channels: C, scale: coefficients, scale2: coefficients + C * 4, shift: coefficients + 2 * C * 4, relu: 0, mask }, threads);
    return backend.makeTensorInfo(x.shape, 'float32', rt.take(dX, rows * C));
  };

  return [
    { kernelName: 'FusedBatchNorm', backendName: 'cpu', kernelFunc: inference },
    { kernelName: K.BATCH_NORM_TRAINING, backendName: 'cpu', kernelFunc: training },
    { kernelName: K.BATCH_NORM_GRAD_PARAMS, backendName: 'cpu', kernelFunc: gradParams },
    { kernelName: K.BATCH_NORM_GRAD_INPUT, backendName: 'cpu', kernelFunc: gradInput },
  ];
}
