import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues } from './backend';

/** The new momentum buffer: g + wd p, or momentum buffer + (1 - dampening) (g + wd p). */
function nextBuffer(p: Float32Array, g: Float32Array, buf: Float32Array, a: K.SgdMomentumAttrs): Float32Array {
  const out = new Float32Array(p.length);
  const m = Math.fround(a.momentum);
  const wd = Math.fround(a.weightDecay);
  const keep = Math.fround(1 - a.dampening);
  for (let i = 0; i < p.length; i++) {
    const gi = Math.fround(g[i] + Math.fround(wd * p[i]));
    out[i] = a.first ? gi : Math.fround(m * buf[i]) + (a.dampening === 0 ? gi : Math.fround(keep * gi));
  }
  return out;
}

/** The new parameter from the updated buffer: p - lr (nesterov ? g + wd p + momentum buffer : buffer). */
function nextParam(p: Float32Array, g: Float32Array, buf: Float32Array, a: K.SgdApplyAttrs): Float32Array {
  const out = new Float32Array(p.length);
  const lr = Math.fround(a.lr);
  const m = Math.fround(a.momentum);
  const wd = Math.fround(a.weightDecay);
  for (let i = 0; i < p.length; i++) {
    const gi = Math.fround(g[i] + Math.fround(wd * p[i]));
    const step = a.nesterov ? Math.fround(gi + Math.fround(m * buf[i])) : buf[i];
    out[i] = p[i] - Math.fround(lr * step);
  }
  return out;
}

/** The SGD update's kernels as plain loops: small tensors, one pass each, no copies. */
const momentum: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { param, grad, buffer } = inputs as unknown as K.SgdInputs;
  const out = nextBuffer(floatValues(backend, param), floatValues(backend, grad), floatValues(backend, buffer), attrs as unknown as K.SgdMomentumAttrs);
  return backend.makeTensorInfo(param.shape, 'float32', out);
};

const apply: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { param, grad, buffer } = inputs as unknown as K.SgdInputs;
  const out = nextParam(floatValues(backend, param), floatValues(backend, grad), floatValues(backend, buffer), attrs as unknown as K.SgdApplyAttrs);
  return backend.makeTensorInfo(param.shape, 'float32', out);
};

/**
 * Every parameter's update in one kernel call, each exactly as the two kernels above compute it:
 * a step of PyramidNet-110 updates 439 tensors, and two calls per tensor cost tfjs's per-kernel
 * overhead 878 times.
 */
const step: KernelFunc = ({ inputs, attrs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const a = attrs as unknown as K.SgdStepAttrs;
  const named = inputs as unknown as Record<string, TensorInfo>;
  const params: TensorInfo[] = [];
  const buffers: TensorInfo[] = [];
  for (let i = 0; i < a.count; i++) {
    const param = named[`param${i}`];
    const p = floatValues(backend, param);
    const g = floatValues(backend, named[`grad${i}`]);
    const weightDecay = a.weightDecays[i];
    const buffer = nextBuffer(p, g, floatValues(backend, named[`buffer${i}`]), { momentum: a.momentum, dampening: a.dampening, weightDecay, first: a.first });
    const updated = nextParam(p, g, buffer, { lr: a.lr, momentum: a.momentum, weightDecay, nesterov: a.nesterov });
    params.push(backend.makeTensorInfo(param.shape, 'float32', updated));
    buffers.push(backend.makeTensorInfo(param.shape, 'float32', buffer));
  }
  return [...params, ...buffers];
};

export function sgdKernels(): KernelConfig[] {
  return [
    { kernelName: K.SGD_MOMENTUM, backendName: 'cpu', kernelFunc: momentum },
    { kernelName: K.SGD_APPLY, backendName: 'cpu', kernelFunc: apply },
    { kernelName: K.SGD_STEP, backendName: 'cpu', kernelFunc: step },
  ];
}
