import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { ConfigError } from '../errors';
import { CpuCompiledInference } from '../cpu/compiled-inference';
import { CpuCompiledStep } from '../cpu/compiled-step';
import { type InstalledKernels, installProjectKernels, installedNativeKernels, nativeKernels, projectKernelThreads, restoreStockKernels } from '../cpu/kernels';
import type { CompiledStepSettings, NetworkDescription } from '../network';
import type { BackendInfo, BackendOptions, BackendPlugin } from './plugin';

export interface CpuOptions extends BackendOptions {
  /**
   * Threads for the project's kernels, the calling one included. Default: PYRAMID_CPU_THREADS, or
   * every core Node reports; in browsers `navigator.hardwareConcurrency`. A browser runs them on
   * Web Workers only in a cross-origin isolated page and off its main thread (which may not block
   * on workers); elsewhere on one thread, and the backend's notices say why.
   */
  threads?: number;
  /**
   * Use the platform's native kernels where they load (default: true; PYRAMID_CPU_NATIVE=0 also
   * switches them off). Without them, or false, WebAssembly kernels serve everything.
   */
  native?: boolean;
}

/** What serves which kernels, in words, for `pyramid backends` and the run's backend line. */
export function describeKernels(installed: InstalledKernels): string {
  const threads = `${installed.threads} thread${installed.threads === 1 ? '' : 's'}`;
  if (!installed.native) return `tfjs-backend-cpu + WebAssembly SIMD kernels (convolution, batch norm, shortcut, SGD) on ${threads}`;
  const { info } = installed.native;
  const { forward, data, weights } = info.convolutionLayouts;
  const named = (layout: string) => (layout === 'nhwc' ? 'NHWC in place' : 'blocked layouts');
  const layouts = forward === data && data === weights ? named(forward) : `forward ${named(forward)}, input gradient ${named(data)}, filter gradient ${named(weights)}`;
  return `tfjs-backend-cpu + native kernels (convolution: oneDNN ${info.onednn}, ${layouts}; batch norm, shortcut, add: ${info.isa}) on ${threads}`;
}

// tfjs-backend-cpu prints a banner recommending tfjs-node the first time it stores data in Node;
// the project chooses backends through its own plugins, where that advice would only mislead.
// Re-register its factory (same priority) with the banner switched off, unless it already runs
// (tf.findBackend would start it; the engine's registry of started backends does not).
const started = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
if (started?.cpu === undefined) {
  tf.removeBackend('cpu');
  tf.registerBackend('cpu', () => Object.assign(new MathBackendCPU(), { firstUse: false }), 1);
}

async function defaultThreads(): Promise<number> {
  if (typeof process === 'undefined' || !process.versions?.node) {
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
    return Number.isInteger(cores) && cores! > 0 ? cores! : 1;
  }
  const fromEnv = process.env.PYRAMID_CPU_THREADS;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`PYRAMID_CPU_THREADS must be a positive integer, got '${fromEnv}'`);
    return n;
  }
  // Not an import: a browser bundler would try to resolve it.
  const os = process.getBuiltinModule('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * The embedded default: tfjs-backend-cpu, always available, in Node and in browsers, with the
 * project's WebAssembly SIMD kernels for convolutions registered over the stock ones.
 */
export const cpuBackendPlugin: BackendPlugin = {
  name: 'cpu',
  packageName: '@pyramid/core',
  description: 'TensorFlow.js CPU backend with the project kernels (built in)',
  needs: [],
  priority: 10,

  async probe() {
    const load = await nativeKernels();
    if (!load.kernels) return { available: true, detail: `built in; WebAssembly kernels (${load.reason})` };
    const info = load.kernels.info();
    return { available: true, detail: `built in; native kernels from ${load.packageName} (oneDNN ${info.onednn}, ${info.isa})` };
  },

  async setup(options: CpuOptions = {}): Promise<BackendInfo> {
    await tf.setBackend('cpu');
    await tf.ready();
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    const kernels = options.kernels ?? 'project';
    if (kernels === 'stock') {
      restoreStockKernels();
      return { name: 'cpu', tfjsBackend: 'cpu', detail: 'tfjs-backend-cpu, stock kernels', kernels };
    }
    const threads = options.threads ?? (await defaultThreads());
    if (!Number.isInteger(threads) || threads < 1) throw new ConfigError(`threads must be a positive integer, got ${threads}`);
    const useNative = options.native ?? true;
    if (typeof useNative !== 'boolean') throw new ConfigError(`native must be true or false, got ${String(useNative)}`);
    const installed = await installProjectKernels(threads, useNative);
    const quietFallback = !useNative || installed.fallbackReason?.startsWith('native kernels run in Node only') || installed.fallbackReason?.includes('PYRAMID_CPU_NATIVE=0');
    const notices = [
      ...(installed.fallbackReason && !quietFallback ? [`cpu: using WebAssembly kernels: ${installed.fallbackReason}`] : []),
      ...(installed.singleThreadReason ? [`cpu: one thread instead of ${threads}: ${installed.singleThreadReason}`] : []),
    ];
    return {
      name: 'cpu',
      tfjsBackend: 'cpu',
      detail: describeKernels(installed),
      kernels,
      ...(notices.length ? { notices } : {}),
    };
  },

  /** On the native kernels, the whole step planned once and replayed (cpu/compiled-step.ts); the same bits as op by op. */
  async compileTrainingStep(network: NetworkDescription, settings: CompiledStepSettings) {
    const native = installedNativeKernels();
    if (native) return CpuCompiledStep.compile(native, network, settings);
    if (projectKernelThreads() === null) return { unsupported: 'the stock kernels run steps op by op' };
    return { unsupported: 'the cpu backend compiles steps on its native kernels only, and the WebAssembly kernels serve this process' };
  },

  /** Eval-mode inference planned once on the native kernels (cpu/compiled-inference.ts); the same logits as op by op. */
  async compileInference(network: NetworkDescription, batchSize: number) {
    const native = installedNativeKernels();
    if (native) return CpuCompiledInference.compile(native, network, batchSize);
    if (projectKernelThreads() === null) return { unsupported: 'the stock kernels run inference op by op' };
    return { unsupported: 'the cpu backend compiles inference on its native kernels only, and the WebAssembly kernels serve this process' };
  },
};
