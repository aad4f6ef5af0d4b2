import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';

/** dy / (H W) at every pixel, rounded as tfjs's divide rounds it: one pass over the output. */
const spatialMeanGrad: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { dy } = inputs as unknown as K.SpatialMeanGradInputs;
  const { height, width } = attrs as unknown as K.SpatialMeanGradAttrs;
  const [batch, channels] = dy.shape;
  const g = floatValues(backend, dy);
  const pixels = height * width;
  const scaled = Float32Array.from(g, (v) => v / pixels);
  const out = outputArray(backend, batch * pixels * channels);
  for (let n = 0; n < batch; n++) {
    const row = scaled.subarray(n * channels, (n + 1) * channels);
    for (let p = 0; p < pixels; p++) out.set(row, (n * pixels + p) * channels);
  }
  return backend.makeTensorInfo([batch, height, width, channels], 'float32', out);
};

export function spatialMeanGradKernels(): KernelConfig[] {
  return [{ kernelName: K.SPATIAL_MEAN_GRAD, backendName: 'cpu', kernelFunc: spatialMeanGrad }];
}
