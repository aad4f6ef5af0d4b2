import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { relativeError } from '../numeric';
import { Rng } from '../random';
import { conv2dBatchNorm } from './conv-batch-norm';

// The composition of tfjs ops ('stock'), the WebAssembly kernels (no fused kernel: composition
// over them) and the native fused kernel where this platform has it.
const MODES = [
  ['composite ops', { kernels: 'stock' as const }],
  ['WebAssembly kernels', { kernels: 'project' as const, threads: 2, native: false }],
  ['native kernels where available', { kernels: 'project' as const, threads: 2 }],
] as const;

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

/** Conv (symmetric zero padding), batch norm with given statistics, optional ReLU: by the definitions, in float64. */
function reference(x: Float32Array, xs: number[], w: Float32Array, ws: number[], stride: number, pad: number, bn: Float32Array[], eps: number, relu: boolean) {
  const [N, H, W, C] = xs;
  const [FH, FW, , K] = ws;
  const OH = Math.floor((H + 2 * pad - FH) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - FW) / stride) + 1;
  const [mean, variance, scale, offset] = bn;
  const out = new Float64Array(N * OH * OW * K);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++)
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let a = 0; a < FH; a++)
            for (let b = 0; b < FW; b++) {
              const h = i * stride - pad + a;
              const v = j * stride - pad + b;
              if (h < 0 || h >= H || v < 0 || v >= W) continue;
              for (let c = 0; c < C; c++) s += x[((n * H + h) * W + v) * C + c] * w[((a * FW + b) * C + c) * K + k];
            }
          const y = ((s - mean[k]) / Math.sqrt(variance[k] + eps)) * scale[k] + offset[k];
          out[((n * OH + i) * OW + j) * K + k] = relu ? Math.max(0, y) : y;
        }
  return out;
}

describe.each(MODES)('conv2dBatchNorm (inference) with %s', (_, options) => {
  it.each([
    ['3x3 stride 1, ReLU', [2, 6, 6, 5], [3, 3, 5, 7], 1, 1, true],
    ['3x3 stride 2, no ReLU', [2, 7, 7, 4], [3, 3, 4, 6], 2, 1, false],
    ['1x1, ReLU', [1, 4, 4, 9], [1, 1, 9, 12], 1, 0, true],
  ])('matches convolution then batch norm by the definitions: %s', async (_, xs, ws, stride, pad, relu) => {
    await cpuBackendPlugin.setup(options);
    const rng = Rng.fromSeed(7).fork('conv-bn');
    const x = rng.fillNormal(new Float32Array(xs.reduce((a, b) => a * b, 1)));
    const w = rng.fillNormal(new Float32Array(ws.reduce((a, b) => a * b, 1)), 0, 0.3);
    const K = ws[3];
    const bn = [rng.fillNormal(new Float32Array(K)), Float32Array.from({ length: K }, () => 0.5 + rng.uniform()), rng.fillNormal(new Float32Array(K)), rng.fillNormal(new Float32Array(K))];
    const expected = reference(x, xs, w, ws, stride, pad, bn, 1e-5, relu);
    const [mean, variance, scale, offset] = bn.map((v) => tf.tensor1d(v));
    const y = conv2dBatchNorm(tf.tensor4d(x, xs as [number, number, number, number]), tf.tensor4d(w, ws as [number, number, number, number]), stride, pad, { mean, variance, scale, offset, epsilon: 1e-5 }, relu);
    expect(relativeError(y.dataSync() as Float32Array, Float32Array.from(expected), 1e-6)).toBeLessThan(2e-6);
    if (relu) expect(Math.min(...y.dataSync())).toBe(0);
  });
});
