import type { Availability, BackendInfo, BackendOptions, BackendPlugin } from '@pyramid/core';

/**
 * CUDA through @tensorflow/tfjs-node-gpu, an optional peer dependency: it downloads libtensorflow
 * 2.9.1 at install time and needs CUDA 11.2 and cuDNN 8.1 at run time, so it is never installed
 * with the workspace. Where it loads, its tensors and kernels serve the whole model unchanged.
 */

export const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';

/** Turns what went wrong while loading tfjs-node-gpu into one sentence a user can act on. */
export function explainLoadFailure(error: unknown, nodeVersion: string = process.versions.node): string {
  const e = error as { code?: string; message?: string };
  const message = String(e?.message ?? error);
  if ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && message.includes(TFJS_NODE_GPU)) {
    return `package ${TFJS_NODE_GPU} is not installed; install it with: npm install ${TFJS_NODE_GPU}@4.22.0 (needs CUDA 11.2 and cuDNN 8.1)`;
  }
  const library = /(lib[\w.+-]+\.so(?:\.[\d.]+)?)/.exec(message)?.[1];
  if (library) {
    return `a native library is missing: ${library} (tfjs-node-gpu 4.22 needs CUDA 11.2 and cuDNN 8.1 on the library path)`;
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)) {
    return `tfjs-node-gpu's native addon does not support Node ${nodeVersion}; use Node 20 or earlier, or rebuild it with: npm rebuild ${TFJS_NODE_GPU} --build-addon-from-source`;
  }
  return `${TFJS_NODE_GPU} failed to load: ${message.split('\n')[0]}`;
}

export type Loader = () => Promise<unknown>;
const loadTfjsNodeGpu: Loader = () => import(/* @vite-ignore */ TFJS_NODE_GPU);

export function createCudaPlugin(load: Loader = loadTfjsNodeGpu): BackendPlugin {
  let loaded: Promise<{ ok: true } | { ok: false; reason: string }> | null = null;
  const tryLoad = () =>
    (loaded ??= load().then(
      () => ({ ok: true as const }),
      (error) => ({ ok: false as const, reason: explainLoadFailure(error) }),
    ));
  return {
    name: 'cuda',
    packageName: '@pyramid/backend-cuda',
    description: 'CUDA through @tensorflow/tfjs-node-gpu (libtensorflow 2.9.1)',
    needs: [`${TFJS_NODE_GPU} 4.22`, 'CUDA 11.2 and cuDNN 8.1', 'an NVIDIA GPU', 'Node 20 or earlier'],
    priority: 30,

    async probe(): Promise<Availability> {
      if (typeof process === 'undefined' || !process.versions?.node) {
        return { available: false, reason: 'CUDA needs Node; this is a browser' };
      }
      const result = await tryLoad();
      if (!result.ok) return { available: false, reason: result.reason };
      return { available: true, detail: `${TFJS_NODE_GPU} (tensorflow backend)` };
    },

    async setup(options: BackendOptions = {}): Promise<BackendInfo> {
      const result = await tryLoad();
      if (!result.ok) throw new Error(result.reason);
      const tf = await import('@tensorflow/tfjs-core');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs could not initialise the tensorflow (CUDA) backend');
      return { name: 'cuda', tfjsBackend: 'tensorflow', detail: TFJS_NODE_GPU, kernels: options.kernels ?? 'stock' };
    },
  };
}

export const backendPlugin: BackendPlugin = createCudaPlugin();
