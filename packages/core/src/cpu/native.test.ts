import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadNativeKernels, nativePackageFor } from './native';

const notFound = (specifier: string) => Object.assign(new Error(`Cannot find package '${specifier}' imported from /x/core/dist/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
const complete = Object.fromEntries(
  ['info', 'setThreads', 'convForward', 'convBackwardData', 'convBackwardWeights', 'add', 'channelSums', 'channelGradSums', 'channelAffine'].map((n) => [n, () => undefined]),
);

describe('native CPU kernels: finding the platform package', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('names one package per platform, architecture and C library, and none where none is built', () => {
    expect(nativePackageFor('linux', 'x64', true)).toBe('@pyramid/cpu-linux-x64-gnu');
    expect(nativePackageFor('linux', 'x64', false)).toBeNull();
    expect(nativePackageFor('darwin', 'arm64', false)).toBeNull();
  });

  it('says which package to install when it is missing', async () => {
    if (nativePackageFor(process.platform, process.arch, true) == null) return;
    const load = await loadNativeKernels(async (s) => {
      throw notFound(s);
    });
    expect(load.kernels).toBeNull();
    expect(load.kernels === null && load.reason).toMatch(/^package @pyramid\/cpu-linux-x64-(gnu|musl) is not installed \(.*npm install @pyramid\/cpu-linux-x64-/);
  });

  it('reports a binary that fails to load with the loader message, first line only', async () => {
    if (nativePackageFor(process.platform, process.arch, true) == null) return;
    const load = await loadNativeKernels(async () => {
      throw new Error('libdnnl.so.2: cannot open shared object file: No such file or directory\n    at Module._extensions..node');
    });
    expect(load.kernels === null && load.reason).toMatch(/failed to load: libdnnl\.so\.2: cannot open shared object file: No such file or directory$/);
  });

  it('refuses an addon that lacks part of the contract and names what is missing', async () => {
    if (nativePackageFor(process.platform, process.arch, true) == null) return;
    const { channelAffine: _, add: __, ...partial } = complete;
    const load = await loadNativeKernels(async () => ({ default: partial }));
    expect(load.kernels === null && load.reason).toMatch(/lacks add, channelAffine \(its version does not match/);
  });

  it('accepts a complete addon, as a CommonJS default export or a namespace', async () => {
    if (nativePackageFor(process.platform, process.arch, true) == null) return;
    expect((await loadNativeKernels(async () => ({ default: complete }))).kernels).toBe(complete);
    expect((await loadNativeKernels(async () => complete)).kernels).toBe(complete);
  });

  it('is switched off by PYRAMID_CPU_NATIVE=0 without importing anything', async () => {
    vi.stubEnv('PYRAMID_CPU_NATIVE', '0');
    const importer = vi.fn();
    const load = await loadNativeKernels(importer);
    expect(importer).not.toHaveBeenCalled();
    expect(load.kernels === null && load.reason).toMatch(/PYRAMID_CPU_NATIVE=0/);
  });
});
