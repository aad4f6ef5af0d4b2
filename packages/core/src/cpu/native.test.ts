import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadNativeKernels, nativePackageFor } from './native';

const notFound = (specifier: string) => Object.assign(new Error(`Cannot find package '${specifier}' imported from /x/core/dist/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
const complete = Object.fromEntries(
  ['info', 'setThreads', 'setConvolutionLayouts', 'convForward', 'convBackwardData', 'convBackwardWeights', 'convForwardAffine', 'add', 'channelSums', 'channelGradSums', 'channelAffine', 'shortcutAdd', 'shortcutGrad', 'sgdStep', 'peakGflops'].map((n) => [n, () => undefined]),
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

describe('native CPU kernels in use: outputs reused without touching what users hold', () => {
  it('leaves values read from a disposed result intact when later kernels reuse its memory', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const { cpuBackendPlugin } = await import('../backends/cpu');
    await cpuBackendPlugin.setup({ threads: 1 });
    const x = tf.ones([2, 32, 32, 16]) as import('@tensorflow/tfjs-core').Tensor4D;
    const filter = tf.ones([3, 3, 16, 16]) as import('@tensorflow/tfjs-core').Tensor4D;
    const first = tf.conv2d(x, filter, 1, 'same');
    const seen = first.dataSync();
    first.dispose();
    for (let i = 0; i < 3; i++) tf.conv2d(tf.mul(x, 2 + i) as typeof x, filter, 1, 'same').dispose();
    // The centre pixel sums 3 x 3 x 16 ones: 144, corners 4 x 16 = 64.
    expect(seen[(15 * 32 + 15) * 16]).toBe(144);
    expect(seen[0]).toBe(64);
    tf.dispose([x, filter]);
  });

  /**
   * The native kernels on one thread, or null where they did not load (allowed outside CI), and the
   * gradients of sum(conv(x, filter)^2) for 5 channels in and 7 out: oneDNN's blocked layouts pad
   * both to 8, so there every activation is reordered.
   */
  async function convolutionGradients() {
    const tf = await import('@tensorflow/tfjs-core');
    const { cpuBackendPlugin } = await import('../backends/cpu');
    const { nativeKernels } = await import('./kernels');
    const { kernels: native } = await nativeKernels();
    if (!native) {
      expect(process.env.CI, 'the native kernels must load in CI').toBeFalsy();
      return null;
    }
    await cpuBackendPlugin.setup({ threads: 1 });
    const run = () =>
      tf.tidy(() => {
        // 16 channels: oneDNN's backward primitives share the output gradient's blocked layout on every instruction set.
        const x = tf.randomNormal([2, 6, 6, 16], 0, 1, 'float32', 1) as import('@tensorflow/tfjs-core').Tensor4D;
        const filter = tf.randomNormal([3, 3, 16, 16], 0, 1, 'float32', 2) as import('@tensorflow/tfjs-core').Tensor4D;
        tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a as typeof x, b as typeof filter, 1, 'same'))))([x, filter]);
      });
    return { native, run };
  }

  it('reorders a convolution\'s output gradient once for both of its gradients (blocked layouts)', async () => {
    const setup = await convolutionGradients();
    if (!setup) return;
    const { native, run } = setup;
    const { forward, data, weights } = native.info().convolutionLayouts;
    native.setConvolutionLayouts('blocked', 'blocked', 'blocked');
    try {
      const before = native.info().reusedDiffDst;
      run();
      expect(native.info().reusedDiffDst).toBe(before + 1);
    } finally {
      native.setConvolutionLayouts(forward, data, weights);
    }
  });

  it('convolves the NHWC tensors in place by default: a gradient step reorders no activation', async () => {
    const setup = await convolutionGradients();
    if (!setup) return;
    const { native, run } = setup;
    expect(native.info().convolutionLayouts).toEqual({ forward: 'nhwc', data: 'nhwc', weights: 'nhwc' });
    const before = native.info().activationReorders;
    run();
    expect(native.info().activationReorders).toBe(before);
  });
});
