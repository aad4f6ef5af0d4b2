import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { BackendInfo, BackendOptions, BackendPlugin } from './plugin';

/**
 * The embedded default: tfjs-backend-cpu, always available, in Node and in browsers.
 */
export const cpuBackendPlugin: BackendPlugin = {
  name: 'cpu',
  packageName: '@pyramid/core',
  description: 'TensorFlow.js CPU backend (built in)',
  needs: [],
  priority: 10,

  async probe() {
    return { available: true, detail: 'built in' };
  },

  async setup(options: BackendOptions = {}): Promise<BackendInfo> {
    await tf.setBackend('cpu');
    await tf.ready();
    // tfjs-backend-cpu prints a banner recommending tfjs-node on its first write in Node; the
    // project's CLI chooses backends through its own plugins, so the banner would only mislead.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    const kernels = options.kernels ?? 'stock';
    return { name: 'cpu', tfjsBackend: 'cpu', detail: 'tfjs-backend-cpu', kernels };
  },
};
