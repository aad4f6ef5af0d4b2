import type { KernelFunc } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { SgdApplyAttrs, SgdInputs, SgdMomentumAttrs } from '@pyramid/core';
import { FlatProgram, run } from './program';

/** The SGD update (PyramidSgdMomentum, PyramidSgdApply of @pyramid/core): one dispatch each. */
const MOMENTUM = `
  let g = grad[index] + uniforms.weightDecay * param[index];
  if (uniforms.first == 1) { result[index] = g; } else { result[index] = uniforms.momentum * buffer[index] + uniforms.keep * g; }
`;

const APPLY = `
  let g = grad[index] + uniforms.weightDecay * param[index];
  var step = buffer[index];
  if (uniforms.nesterov == 1) { step = g + uniforms.momentum * buffer[index]; }
  result[index] = param[index] - uniforms.lr * step;
`;

export const sgdMomentum: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { param, grad, buffer } = args.inputs as unknown as SgdInputs;
  const a = args.attrs as unknown as SgdMomentumAttrs;
  return run(
    backend,
    new FlatProgram({ name: 'sgd_momentum', inputs: ['param', 'grad', 'buffer'], outputShape: [...param.shape], uniforms: 'first : i32, momentum : f32, keep : f32, weightDecay : f32,', body: MOMENTUM }),
    [param, grad, buffer],
    [{ type: 'int32', data: [a.first ? 1 : 0] }, { type: 'float32', data: [a.momentum, 1 - a.dampening, a.weightDecay] }],
  );
};

export const sgdApply: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { param, grad, buffer } = args.inputs as unknown as SgdInputs;
  const a = args.attrs as unknown as SgdApplyAttrs;
  return run(
    backend,
    new FlatProgram({ name: 'sgd_apply', inputs: ['param', 'grad', 'buffer'], outputShape: [...param.shape], uniforms: 'nesterov : i32, lr : f32, momentum : f32, weightDecay : f32,', body: APPLY }),
    [param, grad, buffer],
    [{ type: 'int32', data: [a.nesterov ? 1 : 0] }, { type: 'float32', data: [a.lr, a.momentum, a.weightDecay] }],
  );
};
