import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/**
 * Pack (tf.stack) and Unpack (tf.unstack) along the outermost axis as buffer copies: there the
 * stacked tensor is its parts end to end, so each part is one byte range. The stock kernels run a
 * compute dispatch per part (a bind group and uniforms each); copies need neither. Every batch norm
 * of a training step stacks its scale and offset and unstacks their gradient. Other axes and
 * types go to the stock kernels.
 */

interface BackendInternals {
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
}

const COPYABLE = new Set(['float32', 'int32']);

function bufferOf(backend: WebGPUBackend, t: TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  (backend as unknown as BackendInternals).commandQueueOwnedIds.add(t.dataId);
  return backend.tensorMap.get(t.dataId).resource as GPUBuffer;
}

function encoder(backend: WebGPUBackend): GPUCommandEncoder {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  return (backend as unknown as BackendInternals).commandEncoder!;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function packKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WebGPUBackend;
    const parts = Object.values(args.inputs) as TensorInfo[];
    const { axis } = args.attrs as unknown as { axis: number };
    const first = parts[0];
    if (axis !== 0 || !first || !COPYABLE.has(first.dtype) || size(first.shape) === 0 || parts.some((p) => p.dtype !== first.dtype)) return stock(args);
    const bytes = size(first.shape) * 4;
    const out = backend.makeTensorInfo([parts.length, ...first.shape], first.dtype);
    const target = bufferOf(backend, out);
    const sources = parts.map((p) => bufferOf(backend, p));
    const commands = encoder(backend);
    sources.forEach((source, i) => commands.copyBufferToBuffer(source, 0, target, i * bytes, bytes));
    return out;
  };
}

/** The rows of `value` (its outermost axis) as tensors of their own, by buffer copies. */
export function splitRows(backend: WebGPUBackend, value: TensorInfo): TensorInfo[] {
  const shape = value.shape.slice(1);
  const bytes = size(shape) * 4;
  const source = bufferOf(backend, value);
  const outs = Array.from({ length: value.shape[0] }, () => backend.makeTensorInfo([...shape], value.dtype));
  const targets = outs.map((o) => bufferOf(backend, o));
  const commands = encoder(backend);
  targets.forEach((target, i) => commands.copyBufferToBuffer(source, i * bytes, target, 0, bytes));
  return outs;
}

export function unpackKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WebGPUBackend;
    const { value } = args.inputs as { value: TensorInfo };
    const { axis } = args.attrs as unknown as { axis: number };
    if (axis !== 0 || !COPYABLE.has(value.dtype) || size(value.shape) === 0) return stock(args);
    return splitRows(backend, value);
  };
}
