import { type KernelFunc, type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { FlatProgram, run } from './program';

type Shape4 = [number, number, number, number];

/**
 * Conv2DBackpropFilter as a split reduction. The stock kernel gives one thread to each filter
 * element and loops it over every output pixel of the batch (131,072 for a CIFAR batch of 128):
 * too few threads for a GPU, each running a long serial loop. Here the pixels are cut into
 * chunks; each thread sums one chunk for four output channels of one filter tap, and a second
 * pass adds the chunks.
 */
const PARTIAL = (co4: boolean) => `
  let CO = uniforms.CO;
  let groups = (CO + 3) / 4;
  let g = index % groups;
  let k = (index / groups) % uniforms.K;
  let s = index / (groups * uniforms.K);
  if (s >= uniforms.S) { return; }
  let ci = k % uniforms.CI;
  let kw = (k / uniforms.CI) % uniforms.KW;
  let kh = k / (uniforms.CI * uniforms.KW);
  let co = g * 4;
  let m0 = s * uniforms.chunk;
  let m1 = min(uniforms.M, m0 + uniforms.chunk);
  let pixels = uniforms.OH * uniforms.OW;
  var n = m0 / pixels;
  var oh = (m0 % pixels) / uniforms.OW;
  var ow = m0 % uniforms.OW;
  var acc = vec4<f32>(0.0);
  for (var m = m0; m < m1; m++) {
    let ih = oh * uniforms.sH - uniforms.pT + kh;
    let iw = ow * uniforms.sW - uniforms.pL + kw;
    if (ih >= 0 && ih < uniforms.H && iw >= 0 && iw < uniforms.W) {
      let xv = x[((n * uniforms.H + ih) * uniforms.W + iw) * uniforms.CI + ci];
      let d = m * CO + co;
      ${co4 ? 'acc += xv * vec4<f32>(dy[d], dy[d + 1], dy[d + 2], dy[d + 3]);' : `acc += xv * vec4<f32>(dy[d], select(0.0, dy[min(d + 1, uniforms.dyLast)], co + 1 < CO), select(0.0, dy[min(d + 2, uniforms.dyLast)], co + 2 < CO), select(0.0, dy[min(d + 3, uniforms.dyLast)], co + 3 < CO));`}
    }
    ow++;
    if (ow == uniforms.OW) { ow = 0; oh++; if (oh == uniforms.OH) { oh = 0; n++; } }
  }
  let base = (s * uniforms.K + k) * CO + co;
  result[base] = acc.x;
  if (co + 1 < CO) { result[base + 1] = acc.y; }
  if (co + 2 < CO) { result[base + 2] = acc.z; }
  if (co + 3 < CO) { result[base + 3] = acc.w; }
`;

const SUM = `
  var acc = 0.0;
  for (var s = 0; s < uniforms.S; s++) { acc += partial[s * uniforms.total + index]; }
  result[index] = acc;
`;

/** Threads that a GPU wants busy at once, roughly: chunks are cut to reach it. */
const TARGET_THREADS = 1 << 16;

export function conv2dBackpropFilterKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WebGPUBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat?: string; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: Shape4 };
    if ((a.dataFormat && a.dataFormat !== 'NHWC') || x.dtype !== 'float32') return stock(args);
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const K = info.filterHeight * info.filterWidth * info.inChannels;
    const CO = info.outChannels;
    const M = info.batchSize * info.outHeight * info.outWidth;
    const groups = Math.ceil(CO / 4);
    const S = Math.max(1, Math.min(Math.ceil(TARGET_THREADS / (K * groups)), Math.ceil(M / 32)));
    const chunk = Math.ceil(M / S);
    const co4 = CO % 4 === 0;
    const partial = run(
      backend,
      new FlatProgram({
        name: `conv_filter_grad_partial_${co4}`,
        inputs: ['x', 'dy'],
        outputShape: [S, K, CO],
        threads: S * K * groups,
        uniforms: 'H : i32, W : i32, CI : i32, KW : i32, CO : i32, sH : i32, sW : i32, pT : i32, pL : i32, OH : i32, OW : i32, M : i32, chunk : i32, K : i32, dyLast : i32, S : i32,',
        body: PARTIAL(co4),
      }),
      [x, dy],
      [{ type: 'int32', data: [info.inHeight, info.inWidth, info.inChannels, info.filterWidth, CO, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, info.outHeight, info.outWidth, M, chunk, K, M * CO - 1, S] }],
    );
    // The size uniform counts threads (S * K * groups), not the [S, K, CO] output.
    const result = run(
      backend,
      new FlatProgram({ name: 'conv_filter_grad_sum', inputs: ['partial'], outputShape: [...a.filterShape], uniforms: 'S : i32, total : i32,', body: SUM }),
      [partial],
      [{ type: 'int32', data: [S, K * CO] }],
    );
    backend.disposeData(partial.dataId);
    return result;
  };
}
