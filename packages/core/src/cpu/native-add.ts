import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';
import type { NativeKernels } from './native';

/** Below this many elements the stock kernel is as fast: the call itself dominates. */
const NATIVE_MIN_ELEMENTS = 4096;

/**
 * Add of two float32 tensors of one shape (what gradient accumulation adds, hundreds of times a
 * step) on the native addon; broadcasting, other types and small tensors stay with the stock kernel.
 */
export function nativeAddKernels(native: NativeKernels, stock: (name: string) => KernelFunc): KernelConfig[] {
  const add: KernelFunc = (args) => {
    const backend = args.backend as unknown as CpuBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const size = a.shape.reduce((n, d) => n * d, 1);
    const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (!sameShape || a.dtype !== 'float32' || b.dtype !== 'float32' || size < NATIVE_MIN_ELEMENTS) return stock('Add')(args);
    const out = outputArray(backend, size);
    native.add(floatValues(backend, a), floatValues(backend, b), out, size);
    return backend.makeTensorInfo(a.shape, 'float32', out);
  };
  return [{ kernelName: 'Add', backendName: 'cpu', kernelFunc: add }];
}
