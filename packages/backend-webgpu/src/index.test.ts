import { afterEach, describe, expect, it } from 'vitest';
import { backendPlugin, createWebGpuPlugin } from './index';

// The probe is exercised at its loader boundary: navigator.gpu is replaced by stand-ins that
// answer requestAdapter the way a browser or Dawn does; no GPU is faked beyond that answer.
const g = globalThis as { navigator?: { gpu?: unknown } };
const original = Object.getOwnPropertyDescriptor(globalThis, 'navigator');

function setGpu(gpu: unknown): void {
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, writable: true, configurable: true });
}

afterEach(() => {
  if (original) Object.defineProperty(globalThis, 'navigator', original);
  else delete g.navigator;
});

describe('WebGPU plugin probe', () => {
  it('names the package to install when Dawn (webgpu) is missing in Node', async () => {
    delete g.navigator;
    const status = await createWebGpuPlugin(async (specifier) => {
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
    }).probe();
    expect(status).toEqual({
      available: false,
      reason: 'the package webgpu (Dawn for Node) is not installed; install it with: npm install webgpu',
    });
  });

  it('says when there is no adapter and how to get one on Linux', async () => {
    setGpu({ requestAdapter: async () => null });
    const status = await backendPlugin.probe();
    expect(status.available).toBe(false);
    expect(!status.available && status.reason).toMatch(/no WebGPU adapter was found: .*mesa-vulkan-drivers/);
  });

  it('reports a software adapter as available but not preferred over the CPU', async () => {
    setGpu({ requestAdapter: async () => ({ info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', description: '' } }) });
    expect(await backendPlugin.probe()).toEqual({ available: true, detail: 'llvmpipe (LLVM 19.1.7, 256 bits) (mesa) (software)', preferred: false });
  });

  it('reports a hardware adapter as preferred', async () => {
    setGpu({ requestAdapter: async () => ({ info: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100' } }) });
    expect(await backendPlugin.probe()).toEqual({ available: true, detail: 'NVIDIA H100 (hopper)', preferred: true });
  });
});
