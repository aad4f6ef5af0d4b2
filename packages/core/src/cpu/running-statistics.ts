import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues } from './backend';

/**
 * running' = running (1 - momentum) + batch weight per channel into `out` (which may be `running`),
 * each product and the sum rounded to float32 as tfjs's multiplies and add round them.
 */
export function runningUpdateInto(running: Float32Array, batch: Float32Array, momentum: number, weight: number, out: Float32Array): void {
  const keep = Math.fround(1 - momentum);
  const w = Math.fround(weight);
  for (let c = 0; c < running.length; c++) out[c] = Math.fround(running[c] * keep) + Math.fround(batch[c] * w);
}

/**
 * The batch norm's running statistics in one loop per statistic: per channel, what tfjs's
 * multiplies and add compute (each product and the sum rounded to float32), without their six
 * kernel calls and scalar tensors per batch norm.
 */
const runningStatistics: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { runningMean, runningVar, mean, variance } = inputs as unknown as K.BatchNormRunningStatsInputs;
  const { momentum, unbias } = attrs as unknown as K.BatchNormRunningStatsAttrs;
  const update = (running: TensorInfo, batch: TensorInfo, weight: number) => {
    const out = new Float32Array(running.shape[0]);
    runningUpdateInto(floatValues(backend, running), floatValues(backend, batch), momentum, weight, out);
    return backend.makeTensorInfo(running.shape, 'float32', out);
  };
  return [update(runningMean, mean, momentum), update(runningVar, variance, momentum * unbias)];
};

export function runningStatisticsKernels(): KernelConfig[] {
  return [{ kernelName: K.BATCH_NORM_RUNNING_STATS, backendName: 'cpu', kernelFunc: runningStatistics }];
}
