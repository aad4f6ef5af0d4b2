import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues } from './backend';

/**
 * The batch norm's running statistics in one loop per statistic: per channel, what tfjs's
 * multiplies and add compute (each product and the sum rounded to float32), without their six
 * kernel calls and scalar tensors per batch norm.
 */
const runningStatistics: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { runningMean, runningVar, mean, variance } = inputs as unknown as K.BatchNormRunningStatsInputs;
  const { momentum, unbias } = attrs as unknown as K.BatchNormRunningStatsAttrs;
  const keep = Math.fround(1 - momentum);
  const update = (running: Float32Array, batch: Float32Array, weight: number) => {
    const out = new Float32Array(running.length);
    for (let c = 0; c < running.length; c++) out[c] = Math.fround(running[c] * keep) + Math.fround(batch[c] * weight);
    return out;
  };
  return [
    backend.makeTensorInfo(runningMean.shape, 'float32', update(floatValues(backend, runningMean), floatValues(backend, mean), Math.fround(momentum))),
    backend.makeTensorInfo(runningVar.shape, 'float32', update(floatValues(backend, runningVar), floatValues(backend, variance), Math.fround(momentum * unbias))),
  ];
};

export function runningStatisticsKernels(): KernelConfig[] {
  return [{ kernelName: K.BATCH_NORM_RUNNING_STATS, backendName: 'cpu', kernelFunc: runningStatistics }];
}
