import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_TRAINING } from '../ops/batch-norm';
import { type CpuBackend, floatValues, threadsForElements } from './backend';
import type { KernelRuntime } from './runtime';

/** Adds the per-thread f64 partial sums (threads x width) into one array. */
function combine(rt: KernelRuntime, partials: number, threads: number, width: number): Float64Array {
  const all = rt.doubles(partials, threads * width);
  const out = new Float64Array(width);
  for (let t = 0; t < threads; t++) for (let c = 0; c < width; c++) out[c] += all[t * width + c];
  return out;
}

function statsOf(backend: CpuBackend, mean: TensorInfo, variance: TensorInfo, epsilon: number) {
  const m = floatValues(backend, mean);
  const v = floatValues(backend, variance);
  const rstd = Float64Array.from(v, (x) => 1 / Math.sqrt(x + epsilon));
  return { m, rstd };
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
    const C = x!.shape[x!.shape.length - 1];
    const perChannel = (t: TensorInfo | undefined) => t == null || (t.shape.length === 1 && t.shape[0] === C && t.dtype === 'float32');
    if (x!.dtype !== 'float32' || x!.shape.length < 2 || ![mean, variance, offset, scale].every(perChannel)) {
      return stock('FusedBatchNorm')(args);
    }
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
    const f = rt.floats();
    for (let c = 0; c < C; c++) {
      const a = (g ? g[c] : 1) / Math.sqrt(v[c] + epsilon);
      f[coefficients / 4 + c] = a;
      f[coefficients / 4 + C + c] = (o ? o[c] : 0) - m[c] * a;
    }
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

    const p = floatValues(backend, params);
    const scale = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const rstd = 1 / Math.sqrt(sq[c] / rows + epsilon);
      scale[c] = p[c] * rstd;
      shift[c] = p[C + c] - mean[c] * p[c] * rstd;
    }
    const f = rt.floats();
    f.set(scale, coefficients / 4);
    f.set(shift, coefficients / 4 + C);
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
    const { rstd } = statsOf(backend, mean, variance, (attrs as { epsilon: number }).epsilon);
    const { sumDy, sumDyX, C } = gradSums(backend, dy, x, mean, y);
    const out = new Float32Array(2 * C);
    for (let c = 0; c < C; c++) {
      out[c] = sumDyX[c] * rstd[c];
      out[C + c] = sumDy[c];
    }
    return backend.makeTensorInfo([2, C], 'float32', out);
  };

  const gradInput: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy, x, params, mean, variance, y, dParams } = inputs as Record<string, TensorInfo>;
    const { m, rstd } = statsOf(backend, mean, variance, (attrs as { epsilon: number }).epsilon);
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
      const d = floatValues(backend, dParams);
      sumDyX = Float64Array.from({ length: C }, (_, c) => d[c] / rstd[c]);
      sumDy = Float64Array.from(d.subarray(C));
      threads = threadsForElements(rt, rows * C);
      rt.reset();
      dY = rt.put(floatValues(backend, dy));
      X = rt.put(floatValues(backend, x));
      mask = y ? rt.put(floatValues(backend, y)) : 0;
    } else {
      ({ sumDy, sumDyX, dY, X, threads, mask } = gradSums(backend, dy, x, mean, y));
    }
    // dx = a dy + c1 x + c0 with a = scale * rstd, c1 = -a rstd^2 sum(dy (x - mean)) / n and
    // c0 = -a sum(dy) / n - c1 mean: the batch-norm input gradient, expanded per channel.
    const p = floatValues(backend, params);
    const coefficients = rt.alloc(3 * C * 4);
    const f = rt.floats();
    for (let c = 0; c < C; c++) {
      const a = p[c] * rstd[c];
      const c1 = (-a * rstd[c] * rstd[c] * sumDyX[c]) / rows;
      f[coefficients / 4 + c] = a;
      f[coefficients / 4 + C + c] = c1;
      f[coefficients / 4 + 2 * C + c] = (-a * sumDy[c]) / rows - c1 * m[c];
    }
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
