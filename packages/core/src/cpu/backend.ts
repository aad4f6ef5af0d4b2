import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelRuntime } from './runtime';

/** The slice of tfjs-backend-cpu's MathBackendCPU that the project's kernels use. */
export interface CpuBackend {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

export function floatValues(backend: CpuBackend, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** Below this many elements a memory-bound kernel runs on one thread: waking workers costs more. */
const PARALLEL_MIN_ELEMENTS = 1 << 16;

export function threadsForElements(rt: KernelRuntime, elements: number): number {
  return elements < PARALLEL_MIN_ELEMENTS ? 1 : rt.threads;
}
