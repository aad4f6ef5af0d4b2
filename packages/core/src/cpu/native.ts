import { isMissingModule } from '../modules';

/**
 * The contract of the native CPU kernels, a Node-API addon shipped per platform as its own npm
 * package (as esbuild and sharp ship theirs) and picked through @pyramid/core's
 * optionalDependencies. Arrays are NHWC / HWIO float32, owned by JavaScript and written in place.
 */
export interface NativeKernels {
  info(): NativeInfo;
  setThreads(threads: number): void;
  /**
   * Where each convolution direction keeps its activations: `nhwc` works on the arrays in place,
   * `blocked` reorders them to oneDNN's blocked layouts and back. For measuring one against the
   * other; the addon's default is what measured faster, and results differ in the last bits.
   */
  setConvolutionLayouts(forward: ConvolutionLayout, data: ConvolutionLayout, weights: ConvolutionLayout): void;
  /** `geometry`: [N, H, W, C, FH, FW, K, strideH, strideW, padTop, padLeft, OH, OW]. */
  convForward(x: Float32Array, filter: Float32Array, y: Float32Array, geometry: Int32Array): void;
  convBackwardData(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /**
   * `sameDiffDst` (blocked layouts): dy is the tensor of the previous convBackwardData call, whose blocked copy the
   * addon then reuses instead of reordering dy again (it checks geometry and array as well).
   */
  convBackwardWeights(x: Float32Array, dy: Float32Array, dFilter: Float32Array, geometry: Int32Array, sameDiffDst: boolean): void;
  /** Inference: y = conv(x, filter) + bias per output channel, then ReLU if asked, in one pass. */
  convForwardAffine(x: Float32Array, filter: Float32Array, bias: Float32Array, y: Float32Array, geometry: Int32Array, relu: boolean): void;
  /** out = a + b over `count` floats. */
  add(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void;
  /** sums[c] over `rows` pixels of x, or of (x - center)^2 with `center`; in double. */
  channelSums(x: Float32Array, rows: number, channels: number, center: Float32Array | null, sums: Float64Array): void;
  /** sum(dy) and sum(dy (x - mean)) per channel, dy counted only where mask > 0 when a mask is given. */
  channelGradSums(dy: Float32Array, x: Float32Array, mask: Float32Array | null, rows: number, channels: number, mean: Float32Array, sumDy: Float64Array, sumDyX: Float64Array): void;
  /** y = in scale + shift (+ x scale2 with dy, where in = dy masked by mask > 0; else in = x), then ReLU if asked. */
  channelAffine(x: Float32Array, dy: Float32Array | null, y: Float32Array, rows: number, channels: number, scale: Float32Array, scale2: Float32Array | null, shift: Float32Array, relu: boolean, mask: Float32Array | null): void;
  /** The zero-padded shortcut; `shape`: [N, OH, OW, CO, H, W, CI, stride]. */
  shortcutAdd(residual: Float32Array, x: Float32Array, y: Float32Array, shape: Int32Array): void;
  shortcutGrad(dy: Float32Array, dx: Float32Array, shape: Int32Array): void;
  /**
   * SGD as torch.optim.SGD computes it, in place, over parameters, gradients and momentum buffers
   * laid end to end in runs [bounds[s], bounds[s + 1]), each with its weight decay and learning
   * rate; each product and sum rounded to float32 (no fused multiply-adds), as the JavaScript
   * update rounds them. `momentum` 0: plain SGD, buffers untouched.
   */
  sgdStep(params: Float32Array, grads: Float32Array, buffers: Float32Array, bounds: Int32Array, weightDecays: Float32Array, lrs: Float32Array, momentum: number, dampening: number, nesterov: boolean, first: boolean): void;
  /** Multiply-add throughput of all threads for about `seconds`: the machine's peak, in GFLOP/s. */
  peakGflops(seconds: number): number;
}

export type ConvolutionLayout = 'nhwc' | 'blocked';

export interface NativeInfo {
  /** The instruction set of the memory-bound kernels: 'avx512', 'avx2' or 'baseline'. */
  isa: string;
  /** The linked oneDNN version (it dispatches on the instruction set by itself). */
  onednn: string;
  threads: number;
  /** Bytes held in the reused buffers of blocked layouts. */
  bufferBytes: number;
  /** Backward-weights calls that reused the output gradient reordered by backward-data. */
  reusedDiffDst: number;
  /** Activations copied between NHWC and a blocked layout so far (none with NHWC layouts). */
  activationReorders: number;
  convolutionLayouts: { forward: ConvolutionLayout; data: ConvolutionLayout; weights: ConvolutionLayout };
}

export type NativeLoad = { kernels: NativeKernels; packageName: string } | { kernels: null; packageName: string | null; reason: string };

const REQUIRED: readonly (keyof NativeKernels)[] = ['info', 'setThreads', 'setConvolutionLayouts', 'convForward', 'convBackwardData', 'convBackwardWeights', 'convForwardAffine', 'add', 'channelSums', 'channelGradSums', 'channelAffine', 'shortcutAdd', 'shortcutGrad', 'sgdStep', 'peakGflops'];

/** The package holding the addon for a platform, by Node's platform, architecture and C library. */
const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64-gnu': '@pyramid/cpu-linux-x64-gnu',
};

export function nativePackageFor(platform: string, arch: string, glibc: boolean): string | null {
  return PLATFORM_PACKAGES[`${platform}-${arch}${platform === 'linux' ? (glibc ? '-gnu' : '-musl') : ''}`] ?? null;
}

function runningGlibc(): boolean {
  const report = (process as { report?: { getReport(): unknown } }).report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

export type NativeImporter = (specifier: string) => Promise<unknown>;
const importPackage: NativeImporter = (specifier) => import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);

/**
 * Loads the platform's native kernels, or says in one sentence why they cannot be used here (the
 * CPU backend then keeps its WebAssembly kernels). Only in Node; `PYRAMID_CPU_NATIVE=0` opts out.
 */
export async function loadNativeKernels(importer: NativeImporter = importPackage): Promise<NativeLoad> {
  if (typeof process === 'undefined' || !process.versions?.node) return { kernels: null, packageName: null, reason: 'native kernels run in Node only' };
  if (process.env.PYRAMID_CPU_NATIVE === '0') return { kernels: null, packageName: null, reason: 'native kernels switched off by PYRAMID_CPU_NATIVE=0' };
  const packageName = nativePackageFor(process.platform, process.arch, process.platform === 'linux' && runningGlibc());
  if (!packageName) return { kernels: null, packageName: null, reason: `no native kernels are built for ${process.platform}-${process.arch}` };
  let module: unknown;
  try {
    module = await importer(packageName);
  } catch (error) {
    if (isMissingModule(error, packageName)) {
      return { kernels: null, packageName, reason: `package ${packageName} is not installed (reinstall @pyramid/core with optional dependencies, or: npm install ${packageName})` };
    }
    const message = String((error as Error)?.message ?? error).split('\n')[0];
    return { kernels: null, packageName, reason: `package ${packageName} failed to load: ${message}` };
  }
  const exported = ((module as { default?: unknown }).default ?? module) as Partial<NativeKernels>;
  const absent = REQUIRED.filter((name) => typeof exported[name] !== 'function');
  if (absent.length > 0) {
    return { kernels: null, packageName, reason: `package ${packageName} lacks ${absent.join(', ')} (its version does not match @pyramid/core's)` };
  }
  return { kernels: exported as NativeKernels, packageName };
}
