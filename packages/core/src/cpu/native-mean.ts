import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type CpuBackend, floatValues } from './backend';
import type { NativeKernels } from './native';

/** out[n, c] = the mean of x[n, :, :, c] over `pixels` pixels per image, summed in double. */
export function spatialMeanInto(native: NativeKernels, x: Float32Array, batch: number, pixels: number, C: number, out: Float32Array): void {
  const sums = new Float64Array(C);
  for (let n = 0; n < batch; n++) {
    native.channelSums(x.subarray(n * pixels * C, (n + 1) * pixels * C), pixels, C, null, sums);
    for (let c = 0; c < C; c++) out[n * C + c] = sums[c] / pixels;
  }
}

/**
 * Mean over the spatial axes of an NHWC float32 tensor (the global average pool before the
 * classifier) on the native addon: stock tfjs transposes the channels inwards first. Every other
 * reduction stays with the stock kernel.
 */
export function nativeMeanKernels(native: NativeKernels, stock: (name: string) => KernelFunc): KernelConfig[] {
  const mean: KernelFunc = (args) => {
    const backend = args.backend as unknown as CpuBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.shape.length : a)).sort();
    if (x.dtype !== 'float32' || x.shape.length !== 4 || axes.join() !== '1,2') return stock('Mean')(args);
    const [N, H, W, C] = x.shape;
    const out = new Float32Array(N * C);
    spatialMeanInto(native, floatValues(backend, x), N, H * W, C, out);
    return backend.makeTensorInfo(keepDims ? [N, 1, 1, C] : [N, C], 'float32', out);
  };
  return [{ kernelName: 'Mean', backendName: 'cpu', kernelFunc: mean }];
}
