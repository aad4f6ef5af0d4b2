import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues } from './backend';

/** The SGD update's two kernels as plain loops: small tensors, one pass each, no copies. */
const momentum: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { param, grad, buffer } = inputs as unknown as K.SgdInputs;
  const a = attrs as unknown as K.SgdMomentumAttrs;
  const p = floatValues(backend, param);
  const g = floatValues(backend, grad);
  const buf = floatValues(backend, buffer);
  const out = new Float32Array(p.length);
  const m = Math.fround(a.momentum);
  const wd = Math.fround(a.weightDecay);
  const keep = Math.fround(1 - a.dampening);
  for (let i = 0; i < p.length; i++) {
    const gi = Math.fround(g[i] + Math.fround(wd * p[i]));
    out[i] = a.first ? gi : Math.fround(m * buf[i]) + (a.dampening === 0 ? gi : Math.fround(keep * gi));
  }
  return backend.makeTensorInfo(param.shape, 'float32', out);
};

const apply: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { param, grad, buffer } = inputs as unknown as K.SgdInputs;
  const a = attrs as unknown as K.SgdApplyAttrs;
  const p = floatValues(backend, param);
  const g = floatValues(backend, grad);
  const buf = floatValues(backend, buffer);
  const out = new Float32Array(p.length);
  const lr = Math.fround(a.lr);
  const m = Math.fround(a.momentum);
  const wd = Math.fround(a.weightDecay);
  for (let i = 0; i < p.length; i++) {
    const gi = Math.fround(g[i] + Math.fround(wd * p[i]));
    const step = a.nesterov ? Math.fround(gi + Math.fround(m * buf[i])) : buf[i];
    out[i] = p[i] - Math.fround(lr * step);
  }
  return backend.makeTensorInfo(param.shape, 'float32', out);
};

export function sgdKernels(): KernelConfig[] {
  return [
    { kernelName: K.SGD_MOMENTUM, backendName: 'cpu', kernelFunc: momentum },
    { kernelName: K.SGD_APPLY, backendName: 'cpu', kernelFunc: apply },
  ];
}
