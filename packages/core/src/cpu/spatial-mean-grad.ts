import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';

/** dy [batch, channels] / pixels at every pixel of `out` [batch, pixels, channels], rounded as tfjs's divide rounds it. */
export function spatialMeanGradInto(dy: Float32Array, batch: number, pixels: number, channels: number, out: Float32Array): void {
  const scaled = Float32Array.from(dy.subarray(0, batch * channels), (v) => v / pixels);
  for (let n = 0; n < batch; n++) {
    const row = scaled.subarray(n * channels, (n + 1) * channels);
    for (let p = 0; p < pixels; p++) out.set(row, (n * pixels + p) * channels);
  }
}

/** dy / (H W) at every pixel: one pass over the output. */
const spatialMeanGrad: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { dy } = inputs as unknown as K.SpatialMeanGradInputs;
  const { height, width } = attrs as unknown as K.SpatialMeanGradAttrs;
  const [batch, channels] = dy.shape;
  const out = outputArray(backend, batch * height * width * channels);
  spatialMeanGradInto(floatValues(backend, dy), batch, height * width, channels, out);
  return backend.makeTensorInfo([batch, height, width, channels], 'float32', out);
};

export function spatialMeanGradKernels(): KernelConfig[] {
  return [{ kernelName: K.SPATIAL_MEAN_GRAD, backendName: 'cpu', kernelFunc: spatialMeanGrad }];
}
