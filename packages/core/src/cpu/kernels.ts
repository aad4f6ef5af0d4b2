import { type KernelConfig, type KernelFunc, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { batchNormKernels } from './batch-norm';
import { conv2dKernels } from './conv2d';
import { sgdKernels } from './sgd';
import { shortcutKernels } from './shortcut';
import { KernelRuntime } from './runtime';

/**
 * The project's CPU kernels, registered over tfjs-backend-cpu's by kernel name (as tfjs lets any
 * package do), with the stock kernels kept to restore them and to serve the cases ours leave out.
 */
let runtime: KernelRuntime | null = null;
let installed: KernelConfig[] = [];
const stockKernels = new Map<string, KernelConfig>();

function stock(name: string): KernelFunc {
  const config = stockKernels.get(name) ?? getKernel(name, 'cpu');
  if (!config) throw new Error(`no stock CPU kernel '${name}'`);
  return config.kernelFunc;
}

function replaceKernel(config: KernelConfig): void {
  const existing = getKernel(config.kernelName, 'cpu');
  if (existing && existing !== config && !stockKernels.has(config.kernelName) && !installed.includes(existing)) {
    stockKernels.set(config.kernelName, existing);
  }
  if (existing) unregisterKernel(config.kernelName, 'cpu');
  registerKernel(config);
}

/** Installs the project's kernels (idempotent); `threads` counts the calling thread. */
export async function installProjectKernels(threads: number): Promise<{ threads: number; kernels: string[] }> {
  if (runtime && runtime.threads !== threads) {
    restoreStockKernels();
  }
  if (!runtime) {
    runtime = await KernelRuntime.create(threads);
    installed = [...conv2dKernels(runtime, stock), ...batchNormKernels(runtime, stock), ...shortcutKernels(runtime), ...sgdKernels()];
  }
  for (const config of installed) replaceKernel(config);
  return { threads: runtime.threads, kernels: installed.map((k) => k.kernelName) };
}

/** Puts tfjs-backend-cpu's own kernels back and stops the worker threads. */
export function restoreStockKernels(): void {
  for (const config of installed) {
    if (getKernel(config.kernelName, 'cpu')) unregisterKernel(config.kernelName, 'cpu');
  }
  for (const config of stockKernels.values()) registerKernel(config);
  stockKernels.clear();
  runtime?.dispose();
  runtime = null;
  installed = [];
}
