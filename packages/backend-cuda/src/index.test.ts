import { describe, expect, it } from 'vitest';
import { createCudaPlugin, explainLoadFailure } from './index';

// Each failure is simulated at the loader boundary with the error Node itself raises in that case;
// no GPU is faked.
const notInstalled = Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node-gpu' imported from /app/x.js"), {
  code: 'ERR_MODULE_NOT_FOUND',
});
const noCudart = new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
const abiMismatch = new Error(
  "The module '/app/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 127.",
);

describe('CUDA plugin probe', () => {
  it('names the package to install when tfjs-node-gpu is missing', async () => {
    const status = await createCudaPlugin(() => Promise.reject(notInstalled)).probe();
    expect(status).toEqual({
      available: false,
      reason: 'package @tensorflow/tfjs-node-gpu is not installed; install it with: npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs CUDA 11.2 and cuDNN 8.1)',
    });
  });

  it('names the missing native library', () => {
    expect(explainLoadFailure(noCudart)).toBe(
      'a native library is missing: libcudart.so.11.0 (tfjs-node-gpu 4.22 needs CUDA 11.2 and cuDNN 8.1 on the library path)',
    );
  });

  it('names the unsupported Node version', () => {
    expect(explainLoadFailure(abiMismatch, '22.1.0')).toMatch(/does not support Node 22\.1\.0/);
  });

  it('is available when the package loads', async () => {
    const status = await createCudaPlugin(() => Promise.resolve({})).probe();
    expect(status.available).toBe(true);
  });

  it('refuses setup with the same reason as the probe', async () => {
    await expect(createCudaPlugin(() => Promise.reject(noCudart)).setup()).rejects.toThrow(/libcudart\.so\.11\.0/);
  });
});
