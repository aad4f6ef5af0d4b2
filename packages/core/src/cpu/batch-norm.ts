import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_TRAINING } from '../ops/batch-norm';
import { type CpuBackend, floatValues, threadsForElements } from './backend';
import type { KernelRuntime } from './runtime';
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
    rt.run('channelAffine', [X, 0, Y, rows, C, coefficients, 0, coefficients + C * 4, 0, 0], threads);
    return backend.makeTensorInfo(x!.shape, 'float32', rt.take(Y, rows * C));
  };

  const training: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { x, params } = inputs as { x: TensorInfo; params: TensorInfo };
    const { epsilon, relu } = attrs as { epsilon: number; relu?: boolean };
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

    rt.run('channelSums', [X, rows, C, 0, partials, acc], threads);
    const mean = Float32Array.from(combine(rt, partials, threads, C), (s) => s / rows);
    rt.floats().set(mean, center / 4);
    rt.run('channelSums', [X, rows, C, center, partials, acc], threads);
    const sq = combine(rt, partials, threads, C);
    const variance = Float32Array.from(sq, (s) => s / rows);

    rt.floats().set(trainingCoefficients(floatValues(backend, params), mean, sq, rows, epsilon), coefficients / 4);
    rt.run('channelAffine', [X, 0, Y, rows, C, coefficients, 0, coefficients + C * 4, relu ? 1 : 0, 0], threads);
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
    const mask = y ? rt.put(floatValues(backend, y)) : 0;
    const partials = rt.alloc(threads * 2 * C * 8);
    const acc = rt.alloc(threads * 2 * C * 4);
    rt.run('channelGradSums', [dY, X, rows, C, M, partials, acc, mask], threads);
    const sums = combine(rt, partials, threads, 2 * C);
    return { sumDy: sums.subarray(0, C), sumDyX: sums.subarray(C), rows, C, threads, dY, X, mask };
  };

  const gradParams: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, mean, variance, y } = inputs as Record<string, TensorInfo>;
    const { rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as { epsilon: number }).epsilon);
    const { sumDy, sumDyX, C } = gradSums(backend, dy, x, mean, y);
    return backend.makeTensorInfo([2, C], 'float32', paramGradients(sumDy, sumDyX, rstd));
  };

  const gradInput: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, params, mean, variance, y, dParams } = inputs as Record<string, TensorInfo>;
    const { m, rstd } = statsOf(floatValues(backend, mean), floatValues(backend, variance), (attrs as { epsilon: number }).epsilon);
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
      mask = y ? rt.put(floatValues(backend, y)) : 0;
    } else {
      ({ sumDy, sumDyX, dY, X, threads, mask } = gradSums(backend, dy, x, mean, y));
    }
    const coefficients = rt.alloc(3 * C * 4);
    rt.floats().set(gradInputCoefficients(floatValues(backend, params), m, rstd, sumDy, sumDyX, rows), coefficients / 4);
    const dX = rt.alloc(rows * C * 4);
    rt.run('channelAffine', [X, dY, dX, rows, C, coefficients, coefficients + C * 4, coefficients + 2 * C * 4, 0, mask], threads);
    return backend.makeTensorInfo(x.shape, 'float32', rt.take(dX, rows * C));
  };

  return [
    { kernelName: 'FusedBatchNorm', backendName: 'cpu', kernelFunc: inference },
    { kernelName: BATCH_NORM_TRAINING, backendName: 'cpu', kernelFunc: training },
    { kernelName: BATCH_NORM_GRAD_PARAMS, backendName: 'cpu', kernelFunc: gradParams },
    { kernelName: BATCH_NORM_GRAD_INPUT, backendName: 'cpu', kernelFunc: gradInput },
  ];
}
