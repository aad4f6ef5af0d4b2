import { KERNELS_WASM_PLAIN, KERNELS_WASM_SHARED } from './generated/kernels-wasm';
import { type ParallelKernel, type ThreadPool, createThreadPool, threadsUnavailable } from './threads';

/** The functions of asm/kernels.ts that the JavaScript side calls. */
export interface KernelExports {
  gemmScratchBytes(n: number): number;
  gemm(...args: number[]): void;
  addInto(out: number, src: number, count: number): void;
}
type ParallelExports = Record<ParallelKernel, (...args: number[]) => void>;

/** A convolution's geometry, as the convolution kernels take it. */
export const CONV_GEOMETRY = ['N', 'H', 'W', 'C', 'KH', 'KW', 'CO', 'strideH', 'strideW', 'padTop', 'padLeft', 'OH', 'OW'] as const;

/**
 * Each parallel kernel's parameters after (thread, threads), in the order of asm/kernels.ts:
 * callers name their arguments and the runtime lines them up. Addresses are byte offsets into the
 * memory; NONE (0) stands for an absent optional array, flags are 0 or 1.
 */
export const KERNEL_PARAMETERS = {
  conv2dForward: ['x', 'filter', 'y', ...CONV_GEOMETRY, 'blockRows', 'scratch', 'scratchPerThread'],
  conv2dBackpropInput: ['dy', 'filter', 'dx', ...CONV_GEOMETRY, 'blockRows', 'scratch', 'scratchPerThread'],
  conv2dBackpropFilter: ['x', 'dy', 'partials', ...CONV_GEOMETRY, 'blockRows', 'scratch', 'scratchPerThread'],
  channelSums: ['x', 'rows', 'channels', 'center', 'partials', 'acc'],
  channelGradSums: ['dy', 'x', 'rows', 'channels', 'center', 'partials', 'acc', 'mask'],
  channelAffine: ['x', 'dy', 'y', 'rows', 'channels', 'scale', 'scale2', 'shift', 'relu', 'mask'],
  shortcutAdd: ['residual', 'x', 'y', 'N', 'OH', 'OW', 'CO', 'H', 'W', 'CI', 'stride'],
  shortcutGrad: ['dy', 'dx', 'N', 'OH', 'OW', 'CO', 'H', 'W', 'CI', 'stride'],
} as const satisfies Record<ParallelKernel, readonly string[]>;

export type KernelArgs<K extends ParallelKernel> = { [P in (typeof KERNEL_PARAMETERS)[K][number]]: number };

/** The address of an absent optional array. */
export const NONE = 0;


const PAGE = 65536;
/** The module's own static data sits below this; tensors are placed above it. */
const HEAP_BASE = 4 * PAGE;
const ALIGN = 64;

function decodeBase64(text: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(text, 'base64'));
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * One WebAssembly instance of the project's CPU kernels, its memory, a bump allocator that every
 * kernel call resets, and optionally a pool of worker threads sharing that memory.
 */
export class KernelRuntime {
  readonly exports: KernelExports & ParallelExports;
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  /** Why this runtime has one thread where more were asked for; null otherwise. */
  readonly singleThreadReason: string | null;
  private readonly pool: ThreadPool | null;
  private top = HEAP_BASE;
  private view: Float32Array;

  private constructor(exports: KernelExports & ParallelExports, memory: WebAssembly.Memory, pool: ThreadPool | null, singleThreadReason: string | null) {
    this.exports = exports;
    this.memory = memory;
    this.pool = pool;
    this.singleThreadReason = singleThreadReason;
    this.threads = pool ? pool.size + 1 : 1;
    this.view = new Float32Array(memory.buffer);
  }

  /**
   * Compiles the kernels; with threads > 1, starts threads - 1 workers on a shared memory (Node's
   * worker_threads, or Web Workers where the page is cross-origin isolated and this thread may
   * block: a worker, not a browser's main thread). Where they cannot start, one thread and why.
   */
  static async create(threads: number): Promise<KernelRuntime> {
    const unavailable = threads > 1 ? threadsUnavailable() : null;
    const shared = threads > 1 && !unavailable;
    const module = await WebAssembly.compile(decodeBase64(shared ? KERNELS_WASM_SHARED : KERNELS_WASM_PLAIN) as BufferSource);
    const memory = shared
      ? new WebAssembly.Memory({ initial: HEAP_BASE / PAGE, maximum: 65536, shared: true })
      : new WebAssembly.Memory({ initial: HEAP_BASE / PAGE });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    // The shared build runs on one thread as well, should its workers not start.
    const started = shared ? await createThreadPool(threads - 1, module, memory) : null;
    const reason = unavailable ?? started?.reason ?? null;
    return new KernelRuntime(instance.exports as unknown as KernelExports & ParallelExports, memory, started?.pool ?? null, reason);
  }

  /** Frees every allocation of the previous kernel call. */
  reset(): void {
    this.top = HEAP_BASE;
  }

  /** Reserves `bytes` (64-byte aligned), growing the memory when needed. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = Math.ceil((at + bytes) / ALIGN) * ALIGN;
    const needed = this.top - this.memory.buffer.byteLength;
    if (needed > 0) this.memory.grow(Math.ceil(needed / PAGE));
    return at;
  }

  /** The memory as floats; valid until the next `alloc`. */
  floats(): Float32Array {
    if (this.view.buffer !== this.memory.buffer || this.view.length * 4 !== this.memory.buffer.byteLength) {
      this.view = new Float32Array(this.memory.buffer);
    }
    return this.view;
  }

  /** Copies `values` into fresh memory and returns their address. */
  put(values: Float32Array): number {
    const at = this.alloc(values.length * 4);
    this.floats().set(values, at / 4);
    return at;
  }

  /** The doubles at `address` (partial sums of the reduction kernels). */
  doubles(address: number, count: number): Float64Array {
    return new Float64Array(this.memory.buffer, address, count);
  }

  /** A copy of `count` floats at `address`, owned by JavaScript. */
  take(address: number, count: number): Float32Array {
    return this.floats().slice(address / 4, address / 4 + count);
  }

  /** Runs a parallel kernel on every thread (this one included) and waits for all of them. */
  run<K extends ParallelKernel>(kernel: K, named: KernelArgs<K>, threads = this.threads): void {
    const args = KERNEL_PARAMETERS[kernel].map((name) => (named as Record<string, number>)[name]);
    const used = Math.max(1, Math.min(threads, this.threads));
    if (used > 1 && this.pool) this.pool.start(kernel, used, args);
    try {
      this.exports[kernel](0, used, ...args);
    } finally {
      if (used > 1 && this.pool) this.pool.wait();
    }
  }

  /** Stops the worker threads. */
  dispose(): void {
    this.pool?.terminate();
  }
}
