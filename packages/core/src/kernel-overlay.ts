import { type KernelConfig, type KernelFunc, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';

/**
 * Kernels registered over a backend's own, by kernel name (as tfjs lets any package do), and put
 * back on restore: how the CPU and WebGPU plugins install the project's kernel sets, and how tests
 * wrap kernels to watch them. The kernels it replaced stay reachable through `original`, for the
 * cases the project's kernels leave to them.
 */
export class KernelOverlay {
  /** Each overlaid name with what was registered before (null: nothing). */
  private readonly replaced = new Map<string, KernelConfig | null>();

  constructor(readonly backendName: string) {}

  /** Registers `configs` over what is there; installing again replaces this overlay's own kernels. */
  install(configs: readonly Omit<KernelConfig, 'backendName'>[]): void {
    for (const config of configs) {
      const existing = getKernel(config.kernelName, this.backendName) ?? null;
      if (!this.replaced.has(config.kernelName)) this.replaced.set(config.kernelName, existing);
      if (existing) unregisterKernel(config.kernelName, this.backendName);
      registerKernel({ ...config, backendName: this.backendName });
    }
  }

  /** The kernel this overlay replaced under `name`, or the one registered now when it replaced none. */
  original(name: string): KernelFunc {
    const config = this.replaced.get(name) ?? getKernel(name, this.backendName);
    if (!config) throw new Error(`no ${this.backendName} kernel '${name}' to fall back to`);
    return config.kernelFunc;
  }

  /** The names this overlay has replaced (or added). */
  get names(): string[] {
    return [...this.replaced.keys()];
  }

  /** Puts back every kernel this overlay replaced and removes the ones it added. */
  restore(): void {
    for (const [name, previous] of this.replaced) {
      if (getKernel(name, this.backendName)) unregisterKernel(name, this.backendName);
      if (previous) registerKernel(previous);
    }
    this.replaced.clear();
  }
}
