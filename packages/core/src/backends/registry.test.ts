import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, ConfigError } from '../errors';
import { cpuBackendPlugin } from './cpu';
import type { Availability, BackendPlugin } from './plugin';
import { BackendRegistry } from './registry';

function fakePlugin(name: string, priority: number, availability: Availability): BackendPlugin & { setups: number } {
  return {
    name,
    packageName: `@test/backend-${name}`,
    description: `test backend ${name}`,
    needs: [],
    priority,
    setups: 0,
    async probe() {
      return availability;
    },
    async setup() {
      this.setups++;
      return { name, tfjsBackend: name, detail: 'fake', kernels: 'stock' as const };
    },
  };
}

const missing = (specifier: string) =>
  Object.assign(new Error(`Cannot find package '${specifier}' imported from /x/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });

describe('BackendRegistry', () => {
  it('names the package to install when a known backend is missing', async () => {
    const registry = new BackendRegistry(async (s) => {
      throw missing(s);
    });
    await expect(registry.load('webgpu')).rejects.toThrow(
      "backend 'webgpu' is unavailable: package @pyramid/backend-webgpu is not installed; install it with: npm install @pyramid/backend-webgpu",
    );
  });

  it('fails the same way through a real dynamic import of a package that does not exist', async () => {
    const registry = new BackendRegistry();
    registry.registerPackage('nowhere', '@pyramid/backend-nowhere-does-not-exist');
    await expect(registry.load('nowhere')).rejects.toThrow(/npm install @pyramid\/backend-nowhere-does-not-exist/);
  });

  it('reports a plugin whose own dependency is missing as a load failure, not as not installed', async () => {
    const registry = new BackendRegistry(async () => {
      throw missing('webgpu');
    });
    await expect(registry.load('webgpu')).rejects.toThrow(/package @pyramid\/backend-webgpu failed to load: Cannot find package 'webgpu'/);
  });

  it('rejects a package that does not export the plugin contract', async () => {
    const registry = new BackendRegistry(async () => ({ backendPlugin: { name: 'webgpu' } }));
    await expect(registry.load('webgpu')).rejects.toThrow(/does not export a backend plugin named 'webgpu'/);
  });

  it('loads a plugin exported by its package and lists it with its availability', async () => {
    const plugin = fakePlugin('webgpu', 20, { available: false, reason: 'no adapter' });
    const registry = new BackendRegistry(async (s) => {
      if (s === '@pyramid/backend-webgpu') return { backendPlugin: plugin };
      throw missing(s);
    });
    registry.register(cpuBackendPlugin);
    const list = await registry.list();
    expect(list.map((s) => [s.name, s.available, s.reason ?? s.detail])).toEqual([
      ['webgpu', false, 'no adapter'],
      ['cpu', true, expect.stringMatching(/^built in; (native kernels from @pyramid\/cpu-|WebAssembly kernels \()/)],
      ['cuda', false, 'package @pyramid/backend-cuda is not installed; install it with: npm install @pyramid/backend-cuda'],
    ]);
  });

  it('auto picks the available, preferred backend of highest priority', async () => {
    const cuda = fakePlugin('cuda', 30, { available: false, reason: 'libcudart.so.11.0 not found' });
    const webgpu = fakePlugin('webgpu', 20, { available: true, detail: 'NVIDIA H100' });
    const cpu = fakePlugin('cpu', 10, { available: true, detail: 'built in' });
    const registry = new BackendRegistry();
    for (const p of [cuda, webgpu, cpu]) registry.register(p);
    const notices: string[] = [];
    const info = await registry.use('auto', {}, (n) => notices.push(n));
    expect(info.name).toBe('webgpu');
    expect(webgpu.setups).toBe(1);
    expect(notices).toEqual(['auto: skipped cuda (libcudart.so.11.0 not found)']);
  });

  it('auto falls back to cpu with a notice when the GPU backend is only a software device', async () => {
    const webgpu = fakePlugin('webgpu', 20, { available: true, detail: 'llvmpipe (software)', preferred: false });
    const cpu = fakePlugin('cpu', 10, { available: true, detail: 'built in' });
    const registry = new BackendRegistry(async (s) => {
      throw missing(s);
    });
    registry.register(webgpu);
    registry.register(cpu);
    const notices: string[] = [];
    expect((await registry.use('auto', {}, (n) => notices.push(n))).name).toBe('cpu');
    expect(notices).toEqual(['auto: skipped webgpu (llvmpipe (software); not preferred over cpu)']);
  });

  it('refuses an unavailable backend by name with its reason, and an unknown name', async () => {
    const registry = new BackendRegistry();
    registry.register(fakePlugin('cuda', 30, { available: false, reason: 'libcudart.so.11.0 not found' }));
    await expect(registry.use('cuda')).rejects.toThrow(new BackendUnavailableError('cuda', 'libcudart.so.11.0 not found'));
    await expect(registry.use('tpu')).rejects.toThrow(ConfigError);
    await expect(registry.use('tpu')).rejects.toThrow("unknown backend 'tpu'; known backends: webgpu, cuda, auto");
  });

  it('turns a throwing probe into an unavailable status instead of failing the listing', async () => {
    const plugin = fakePlugin('webgpu', 20, { available: true, detail: 'x' });
    plugin.probe = async () => {
      throw new Error('driver crashed');
    };
    const registry = new BackendRegistry(async () => ({ backendPlugin: plugin }));
    const [status] = (await registry.list()).filter((s) => s.name === 'webgpu');
    expect(status.reason).toBe('its probe failed: driver crashed');
  });
});
