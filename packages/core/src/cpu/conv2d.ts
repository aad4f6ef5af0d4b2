import { type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { type CpuBackend, floatValues as values } from './backend';
import { CONV_GEOMETRY, type KernelRuntime } from './runtime';

export type Conv2DInfo = ReturnType<typeof backend_util.computeConv2DInfo>;
export type Shape4 = [number, number, number, number];

/** Below this many multiply-accumulates a convolution runs on one thread: waking workers costs more. */
const PARALLEL_MIN_MACS = 2_000_000;

/** Rows of the im2col block: about 512 KB of column data, a multiple of the 6-row micro-tile. */
function blockRows(K: number): number {
  return Math.max(48, Math.min(4096, Math.floor(131072 / K / 6) * 6));
}

/** Only NHWC float32 without dilation is ours; anything else goes to the stock kernel. */
export function supported(inputs: TensorInfo[], attrs: NamedAttrMap = {}): boolean {
  const { dataFormat, dilations } = attrs as { dataFormat?: string; dilations?: number | number[] };
  const dilated = dilations != null && (Array.isArray(dilations) ? dilations.some((d) => d !== 1) : dilations !== 1);
  return (dataFormat == null || dataFormat === 'NHWC') && !dilated && inputs.every((t) => t.dtype === 'float32');
}

/** The geometry by name, as the WebAssembly convolution kernels take it. */
function namedGeometry(info: Conv2DInfo): Record<(typeof CONV_GEOMETRY)[number], number> {
  return {
    N: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels,
    KH: info.filterHeight, KW: info.filterWidth, CO: info.outChannels,
    strideH: info.strideHeight, strideW: info.strideWidth, padTop: info.padInfo.top, padLeft: info.padInfo.left,
    OH: info.outHeight, OW: info.outWidth,
  };
}

/** The geometry in CONV_GEOMETRY's order, as the native convolutions take it. */
export function geometry(info: Conv2DInfo): number[] {
  const named = namedGeometry(info);
  return CONV_GEOMETRY.map((name) => named[name]);
}

function threadsFor(rt: KernelRuntime, info: Conv2DInfo): number {
  const macs = info.batchSize * info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels * info.outChannels;
  return macs < PARALLEL_MIN_MACS ? 1 : rt.threads;
}

/** Scratch per thread: an im2col block and the GEMM's packing buffers for an n-column product. */
function scratch(rt: KernelRuntime, info: Conv2DInfo, gemmColumns: number, threads: number): { rows: number; base: number; perThread: number } {
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const rows = blockRows(K);
  const perThread = Math.ceil((rows * K * 4 + rt.exports.gemmScratchBytes(gemmColumns)) / 64) * 64;
  return { rows, base: rt.alloc(perThread * threads), perThread };
}

export function conv2dKernels(rt: KernelRuntime, stock: (name: string) => KernelFunc): KernelConfig[] {
  const conv2D: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    if (!supported([x, filter], attrs)) return stock('Conv2D')(args);
    const { strides, pad, dimRoundingMode } = attrs as unknown as { strides: number | [number, number]; pad: backend_util.PadInfo['type'] | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, strides, 1, pad as never, dimRoundingMode, false, 'channelsLast');
    const threads = threadsFor(rt, info);
    rt.reset();
    const X = rt.put(values(backend, x));
    const F = rt.put(values(backend, filter));
    const outSize = info.batchSize * info.outHeight * info.outWidth * info.outChannels;
    const Y = rt.alloc(outSize * 4);
    const s = scratch(rt, info, info.outChannels, threads);
    rt.run('conv2dForward', { x: X, filter: F, y: Y, ...namedGeometry(info), blockRows: s.rows, scratch: s.base, scratchPerThread: s.perThread }, threads);
    return backend.makeTensorInfo(info.outShape, 'float32', rt.take(Y, outSize));
  };

  const conv2DBackpropInput: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    if (!supported([dy, filter], attrs)) return stock('Conv2DBackpropInput')(args);
    const { inputShape, strides, pad, dimRoundingMode } = attrs as unknown as { inputShape: Shape4; strides: number | [number, number]; pad: never; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const threads = Math.min(threadsFor(rt, info), info.batchSize);
    rt.reset();
    const dY = rt.put(values(backend, dy));
    const F = rt.put(values(backend, filter));
    const size = info.batchSize * info.inHeight * info.inWidth * info.inChannels;
    const dX = rt.alloc(size * 4);
    const s = scratch(rt, info, info.filterHeight * info.filterWidth * info.inChannels, threads);
    rt.run('conv2dBackpropInput', { dy: dY, filter: F, dx: dX, ...namedGeometry(info), blockRows: s.rows, scratch: s.base, scratchPerThread: s.perThread }, threads);
    return backend.makeTensorInfo(info.inShape, 'float32', rt.take(dX, size));
  };

  const conv2DBackpropFilter: KernelFunc = (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as CpuBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    if (!supported([x, dy], attrs)) return stock('Conv2DBackpropFilter')(args);
    const { filterShape, strides, pad, dimRoundingMode } = attrs as unknown as { filterShape: Shape4; strides: number | [number, number]; pad: never; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const threads = threadsFor(rt, info);
    rt.reset();
    const X = rt.put(values(backend, x));
    const dY = rt.put(values(backend, dy));
    const size = info.filterHeight * info.filterWidth * info.inChannels * info.outChannels;
    const partials = rt.alloc(size * 4 * threads);
    const s = scratch(rt, info, info.outChannels, threads);
    rt.run('conv2dBackpropFilter', { x: X, dy: dY, partials, ...namedGeometry(info), blockRows: s.rows, scratch: s.base, scratchPerThread: s.perThread }, threads);
    for (let t = 1; t < threads; t++) rt.exports.addInto(partials, partials + t * size * 4, size);
    return backend.makeTensorInfo(filterShape, 'float32', rt.take(partials, size));
  };

  return [
    { kernelName: 'Conv2D', backendName: 'cpu', kernelFunc: conv2D },
    { kernelName: 'Conv2DBackpropInput', backendName: 'cpu', kernelFunc: conv2DBackpropInput },
    { kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: conv2DBackpropFilter },
  ];
}
