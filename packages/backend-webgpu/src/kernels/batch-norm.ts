import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { BatchNormAttrs, BatchNormGradInputInputs, BatchNormGradParamsInputs, BatchNormRunningStatsAttrs, BatchNormRunningStatsInputs, BatchNormTrainingInputs } from '@pyramid/core';
import { FlatProgram, run } from './program';
import { splitRows } from './stack-copies';

/**
 * The project's fused batch norm (PyramidBatchNorm* kernels of @pyramid/core) on WebGPU: per-channel
 * sums over row chunks in one pass, the chunks added per channel in a second, and one pass that
 * normalises (and applies the ReLU) or forms the input gradient, in place of the twenty-odd
 * dispatches of the composite ops. Sums are taken around a pivot (the first row's value) to keep
 * the variance accurate in float32.
 */

const ROWS_PER_CHUNK = 256;

function shapeOf(x: TensorInfo): { rows: number; C: number; S: number; chunk: number } {
  const C = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, d) => a * d, 1) / C;
  const S = Math.max(1, Math.ceil(rows / ROWS_PER_CHUNK));
  return { rows, C, S, chunk: Math.ceil(rows / S) };
}

// partial[s][0][c] = sum (x - pivot), partial[s][1][c] = sum (x - pivot)^2 over chunk s.
const STATS_PARTIAL = `
  let c = index % uniforms.C;
  let s = index / uniforms.C;
  let pivot = x[c];
  let r1 = min(uniforms.rows, (s + 1) * uniforms.chunk);
  var a = 0.0;
  var b = 0.0;
  for (var r = s * uniforms.chunk; r < r1; r++) {
    let d = x[r * uniforms.C + c] - pivot;
    a += d;
    b += d * d;
  }
  result[(s * 2) * uniforms.C + c] = a;
  result[(s * 2 + 1) * uniforms.C + c] = b;
`;

// result[0][c]: the mean; result[1][c]: the biased variance.
const STATS_FINAL = `
  let c = index % uniforms.C;
  let which = index / uniforms.C;
  var a = 0.0;
  var b = 0.0;
  for (var s = 0; s < uniforms.S; s++) {
    a += partial[(s * 2) * uniforms.C + c];
    b += partial[(s * 2 + 1) * uniforms.C + c];
  }
  let n = f32(uniforms.rows);
  let m = a / n;
  if (which == 0) { result[index] = x[c] + m; } else { result[index] = max(b / n - m * m, 0.0); }
`;

const APPLY = `
  let c = index % uniforms.C;
  let scale = params[c] * inverseSqrt(variance[c] + uniforms.eps);
  var y = (x[index] - mean[c]) * scale + params[uniforms.C + c];
  if (uniforms.relu == 1) { y = max(y, 0.0); }
  result[index] = y;
`;

// partial[s][0][c] = sum dy, partial[s][1][c] = sum dy (x - mean), dy masked by y > 0 with ReLU.
const GRAD_PARTIAL = (masked: boolean) => `
  let c = index % uniforms.C;
  let s = index / uniforms.C;
  let r1 = min(uniforms.rows, (s + 1) * uniforms.chunk);
  let m = mean[c];
  var a = 0.0;
  var b = 0.0;
  for (var r = s * uniforms.chunk; r < r1; r++) {
    let i = r * uniforms.C + c;
    ${masked ? 'let g = select(0.0, dy[i], y[i] > 0.0);' : 'let g = dy[i];'}
    a += g;
    b += g * (x[i] - m);
  }
  result[(s * 2) * uniforms.C + c] = a;
  result[(s * 2 + 1) * uniforms.C + c] = b;
`;

// dParams: [0][c] = d scale = sum dy (x - mean) * rstd, [1][c] = d offset = sum dy.
const GRAD_FINAL = `
  let c = index % uniforms.C;
  let which = index / uniforms.C;
  var a = 0.0;
  var b = 0.0;
  for (var s = 0; s < uniforms.S; s++) {
    a += partial[(s * 2) * uniforms.C + c];
    b += partial[(s * 2 + 1) * uniforms.C + c];
  }
  if (which == 0) { result[index] = b * inverseSqrt(variance[c] + uniforms.eps); } else { result[index] = a; }
`;

// dx = a dy + c1 x + c0: a = scale rstd, c1 = -a rstd dscale / n, c0 = -a doffset / n - c1 mean.
const GRAD_INPUT = (masked: boolean) => `
  let c = index % uniforms.C;
  let rstd = inverseSqrt(variance[c] + uniforms.eps);
  let n = f32(uniforms.rows);
  let a = params[c] * rstd;
  let c1 = -a * rstd * dParams[c] / n;
  let c0 = -a * dParams[uniforms.C + c] / n - c1 * mean[c];
  ${masked ? 'let g = select(0.0, dy[index], y[index] > 0.0);' : 'let g = dy[index];'}
  result[index] = a * g + c1 * x[index] + c0;
`;

function stats(backend: WebGPUBackend, x: TensorInfo): { mean: TensorInfo; variance: TensorInfo } {
  const { rows, C, S, chunk } = shapeOf(x);
  const partial = run(
    backend,
    new FlatProgram({ name: 'bn_stats_partial', inputs: ['x'], outputShape: [S, 2, C], threads: S * C, uniforms: 'rows : i32, C : i32, chunk : i32, S : i32,', body: `if (index >= uniforms.S * uniforms.C) { return; }\n${STATS_PARTIAL}` }),
    [x],
    [{ type: 'int32', data: [rows, C, chunk, S] }],
  );
  const both = run(backend, new FlatProgram({ name: 'bn_stats_final', inputs: ['partial', 'x'], outputShape: [2, C], uniforms: 'rows : i32, C : i32, S : i32,', body: STATS_FINAL }), [partial, x], [{ type: 'int32', data: [rows, C, S] }]);
  // The two rows become the mean and variance tensors by buffer copies, not dispatches.
  const [mean, variance] = splitRows(backend, both);
  backend.disposeData(both.dataId);
  backend.disposeData(partial.dataId);
  return { mean, variance };
}

function gradParams(backend: WebGPUBackend, dy: TensorInfo, x: TensorInfo, mean: TensorInfo, variance: TensorInfo, y: TensorInfo | undefined, epsilon: number): TensorInfo {
  const { rows, C, S, chunk } = shapeOf(x);
  const masked = y !== undefined;
  const partial = run(
    backend,
    new FlatProgram({ name: `bn_grad_partial_${masked}`, inputs: masked ? ['dy', 'x', 'mean', 'y'] : ['dy', 'x', 'mean'], outputShape: [S, 2, C], threads: S * C, uniforms: 'rows : i32, C : i32, chunk : i32, S : i32,', body: `if (index >= uniforms.S * uniforms.C) { return; }\n${GRAD_PARTIAL(masked)}` }),
    masked ? [dy, x, mean, y] : [dy, x, mean],
    [{ type: 'int32', data: [rows, C, chunk, S] }],
  );
  const out = run(
    backend,
    new FlatProgram({ name: 'bn_grad_final', inputs: ['partial', 'variance'], outputShape: [2, C], uniforms: 'C : i32, S : i32, eps : f32,', body: GRAD_FINAL }),
    [partial, variance],
    [{ type: 'int32', data: [C, S] }, { type: 'float32', data: [epsilon] }],
  );
  backend.disposeData(partial.dataId);
  return out;
}

export const batchNormTraining: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { x, params } = args.inputs as unknown as BatchNormTrainingInputs;
  const { epsilon, relu } = args.attrs as unknown as BatchNormAttrs;
  const { C } = shapeOf(x);
  const { mean, variance } = stats(backend, x);
  const y = run(
    backend,
    new FlatProgram({ name: 'bn_apply', inputs: ['x', 'mean', 'variance', 'params'], outputShape: [...x.shape], uniforms: 'C : i32, relu : i32, eps : f32,', body: APPLY }),
    [x, mean, variance, params],
    [{ type: 'int32', data: [C, relu ? 1 : 0] }, { type: 'float32', data: [epsilon] }],
  );
  return [y, mean, variance];
};

export const batchNormGradParams: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { dy, x, mean, variance, y } = args.inputs as unknown as BatchNormGradParamsInputs;
  return gradParams(backend, dy, x, mean, variance, y, (args.attrs as unknown as BatchNormAttrs).epsilon);
};

export const batchNormGradInput: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { dy, x, params, mean, variance, y, dParams } = args.inputs as unknown as BatchNormGradInputInputs;
  const epsilon = (args.attrs as unknown as BatchNormAttrs).epsilon;
  const sums = dParams ?? gradParams(backend, dy!, x!, mean!, variance!, y, epsilon);
  const { rows, C } = shapeOf(x!);
  const masked = y !== undefined;
  const names = ['dy', 'x', 'params', 'mean', 'variance', 'dParams', ...(masked ? ['y'] : [])];
  const dx = run(
    backend,
    new FlatProgram({ name: `bn_grad_input_${masked}`, inputs: names, outputShape: [...x!.shape], uniforms: 'rows : i32, C : i32, eps : f32,', body: GRAD_INPUT(masked) }),
    [dy!, x!, params!, mean!, variance!, sums, ...(masked ? [y!] : [])],
    [{ type: 'int32', data: [rows, C] }, { type: 'float32', data: [epsilon] }],
  );
  if (!dParams) backend.disposeData(sums.dataId);
  return dx;
};

// result[0] = running mean', result[1] = running var': (1 - momentum) running + factor statistic,
// factor = momentum for the mean, momentum n / (n - 1) for the variance. The products are rounded
// as the CPU's separate multiplies round them.
const RUNNING = `
  let c = index % uniforms.C;
  var kept = runningMean[c] * uniforms.keep;
  var added = mean[c] * uniforms.meanFactor;
  if (index >= uniforms.C) {
    kept = runningVar[c] * uniforms.keep;
    added = variance[c] * uniforms.varFactor;
  }
  result[index] = kept + added;
`;

/** Both running statistics in one dispatch, split into their two tensors by buffer copies. */
export const batchNormRunningStats: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { runningMean, runningVar, mean, variance } = args.inputs as unknown as BatchNormRunningStatsInputs;
  const { momentum, unbias } = args.attrs as unknown as BatchNormRunningStatsAttrs;
  const C = runningMean.shape[0];
  const both = run(
    backend,
    new FlatProgram({ name: 'bn_running_stats', inputs: ['runningMean', 'runningVar', 'mean', 'variance'], outputShape: [2, C], uniforms: 'C : i32, keep : f32, meanFactor : f32, varFactor : f32,', body: RUNNING }),
    [runningMean, runningVar, mean, variance],
    [{ type: 'int32', data: [C] }, { type: 'float32', data: [1 - momentum, momentum, momentum * unbias] }],
  );
  const rows = splitRows(backend, both);
  backend.disposeData(both.dataId);
  return rows;
};
