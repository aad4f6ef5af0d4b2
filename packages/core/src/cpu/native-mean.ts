import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type CpuBackend, floatValues } from './backend';
import type { NativeKernels } from './native';

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
    const values = floatValues(backend, x);
    const sums = new Float64Array(C);
    const out = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      native.channelSums(values.subarray(n * H * W * C, (n + 1) * H * W * C), H * W, C, null, sums);
      for (let c = 0; c < C; c++) out[n * C + c] = sums[c] / (H * W);
    }
    return backend.makeTensorInfo(keepDims ? [N, 1, 1, C] : [N, C], 'float32', out);
  };
  return [{ kernelName: 'Mean', backendName: 'cpu', kernelFunc: mean }];
}
