import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from './backends/cpu';
import { KernelOverlay } from './kernel-overlay';

afterEach(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

describe('KernelOverlay', () => {
  it('runs its kernels in place of the backend own, reaches the originals, and puts them back', async () => {
    await cpuBackendPlugin.setup({ kernels: 'stock' });
    const stockNeg = tf.getKernel('Neg', 'cpu');
    const overlay = new KernelOverlay('cpu');
    // Negation replaced by "negate, then add 100" through the original kernel: -3 + 100 = 97.
    overlay.install([{ kernelName: 'Neg', kernelFunc: (args) => {
      const negated = overlay.original('Neg')(args) as tf.TensorInfo;
      const backend = args.backend as unknown as { readSync(id: object): Float32Array; makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo; disposeIntermediateTensorInfo(t: tf.TensorInfo): void };
      const out = backend.makeTensorInfo(negated.shape, 'float32', backend.readSync(negated.dataId).map((v) => v + 100));
      backend.disposeIntermediateTensorInfo(negated);
      return out;
    } }]);
    expect(Array.from(tf.neg(tf.tensor1d([3])).dataSync())).toEqual([97]);
    expect(overlay.names).toEqual(['Neg']);
    overlay.restore();
    expect(tf.getKernel('Neg', 'cpu')).toBe(stockNeg);
    expect(Array.from(tf.neg(tf.tensor1d([3])).dataSync())).toEqual([-3]);
  });

  it('removes a kernel it added where the backend had none, and keeps the first original across reinstalls', () => {
    const overlay = new KernelOverlay('cpu');
    const kernelFunc = () => ({ dataId: {}, shape: [], dtype: 'float32' as const });
    overlay.install([{ kernelName: 'PyramidOverlayTestOnly', kernelFunc }]);
    overlay.install([{ kernelName: 'PyramidOverlayTestOnly', kernelFunc }]);
    expect(tf.getKernel('PyramidOverlayTestOnly', 'cpu')?.kernelFunc).toBe(kernelFunc);
    overlay.restore();
    expect(tf.getKernel('PyramidOverlayTestOnly', 'cpu')).toBeUndefined();
    expect(() => overlay.original('PyramidOverlayTestOnly')).toThrow("no cpu kernel 'PyramidOverlayTestOnly' to fall back to");
  });
});
