import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { KernelOverlay } from '../kernel-overlay';
import { batchNormKernels } from './batch-norm';
import { conv2dKernels } from './conv2d';
import { type NativeInfo, type NativeKernels, type NativeLoad, loadNativeKernels } from './native';
import { nativeAddKernels } from './native-add';
import { nativeBatchNormKernels } from './native-batch-norm';
import { nativeConv2dKernels } from './native-conv2d';
import { nativeMeanKernels } from './native-mean';
import { nativeShortcutKernels } from './native-shortcut';
import { runningStatisticsKernels } from './running-statistics';
import { sgdKernels } from './sgd';
import { spatialMeanGradKernels } from './spatial-mean-grad';
import { shortcutKernels } from './shortcut';
import { KernelRuntime } from './runtime';
import { processWide } from '../process-wide';

/**
 * The project's CPU kernels, registered over tfjs-backend-cpu's by kernel name (as tfjs lets any
 * package do), with the stock kernels kept to restore them and to serve the cases ours leave out.
 */
/** What is installed: for which thread count, on the native addon or a WebAssembly runtime. */
interface Installed {
  requestedThreads: number;
  threads: number;
  native: NativeKernels | null;
  runtime: KernelRuntime | null;
  kernels: KernelConfig[];
  nativeNames: string[];
}

/**
 * Once per process, whichever build of this package installs them: the kernels sit in tfjs's
 * process-wide registry, and a second overlay would take the first one's kernels for tfjs's own.
 */
const state = processWide('cpu-kernels.v1', () => ({
  installed: null as Installed | null,
  overlay: new KernelOverlay('cpu'),
  nativeLoad: null as Promise<NativeLoad> | null,
}));
const stock = (name: string): KernelFunc => state.overlay.original(name);

/** The native kernels of this platform, loaded once per process (or why there are none). */
export function nativeKernels(): Promise<NativeLoad> {
  state.nativeLoad ??= loadNativeKernels();
  return state.nativeLoad;
}

export interface InstalledKernels {
  threads: number;
  kernels: string[];
  /** The kernels served by the native addon, and what it runs on; null when WebAssembly serves all. */
  native: { kernels: string[]; info: NativeInfo } | null;
  /** Why the native kernels are not used (when they are not). */
  fallbackReason: string | null;
  /** Why the kernels run on one thread where more were asked for (no worker threads here); else null. */
  singleThreadReason: string | null;
}

/**
 * Installs the project's kernels (idempotent); `threads` counts the calling thread. Native kernels
 * serve what they implement where the platform package loads; WebAssembly serves the rest.
 */
export async function installProjectKernels(threads: number, useNative = true): Promise<InstalledKernels> {
  const load = useNative ? await nativeKernels() : null;
  const native = load?.kernels ?? null;
  let current = state.installed;
  if (current && (current.requestedThreads !== threads || current.native !== native)) {
    restoreStockKernels();
    current = null;
  }
  if (!current) {
    if (native) {
      // The native set covers everything the WebAssembly one does: no runtime, no worker threads.
      native.setThreads(threads);
      const nativeSet = [...nativeConv2dKernels(native, stock), ...nativeBatchNormKernels(native, stock), ...nativeAddKernels(native, stock), ...nativeShortcutKernels(native), ...nativeMeanKernels(native, stock)];
      current = { requestedThreads: threads, threads, native, runtime: null, kernels: [...nativeSet, ...sgdKernels(), ...runningStatisticsKernels(), ...spatialMeanGradKernels()], nativeNames: nativeSet.map((k) => k.kernelName) };
    } else {
      const runtime = await KernelRuntime.create(threads);
      const kernels = [...conv2dKernels(runtime, stock), ...batchNormKernels(runtime, stock), ...shortcutKernels(runtime), ...sgdKernels(), ...runningStatisticsKernels(), ...spatialMeanGradKernels()];
      current = { requestedThreads: threads, threads: runtime.threads, native: null, runtime, kernels, nativeNames: [] };
    }
    state.installed = current;
  }
  state.overlay.install(current.kernels);
  return {
    threads: current.threads,
    kernels: current.kernels.map((k) => k.kernelName),
    native: current.native ? { kernels: current.nativeNames, info: current.native.info() } : null,
    fallbackReason: load == null ? 'native kernels not requested' : load.kernels ? null : load.reason,
    singleThreadReason: current.runtime?.singleThreadReason ?? null,
  };
}

/**
 * Threads the installed project kernels split their work among, or null when tfjs's stock kernels
 * serve the CPU backend. Their sums are partitioned by thread, so results depend on this count.
 */
export function projectKernelThreads(): number | null {
  return state.installed ? state.installed.threads : null;
}

/** The native kernels the installed project kernels run on, or null (stock or WebAssembly kernels). */
export function installedNativeKernels(): NativeKernels | null {
  return state.installed?.native ?? null;
}

/** Puts tfjs-backend-cpu's own kernels back and stops the worker threads. */
export function restoreStockKernels(): void {
  state.overlay.restore();
  state.installed?.runtime?.dispose();
  state.installed = null;
}
