import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { SgdStepAttrs } from '@pyramid/core';

/**
 * PyramidSgdStep: the SGD update of every parameter in one dispatch per distinct weight decay
 * (two with PyramidNet's recipe, which exempts batch norms), instead of two per parameter tensor.
 * Parameters, gradients and momentum buffers are gathered into flat buffers by buffer copies (not
 * dispatches), updated in place by one kernel, and copied out into the step's new tensors: the
 * tfjs variables stay what the rest of the project reads and checkpoints. The flat buffers,
 * uniforms, pipeline and bind groups are made once for a set of shapes and reused every step.
 *
 * Per element, the arithmetic of PyramidSgdMomentum then PyramidSgdApply:
 *   g = grad + weightDecay p;  b' = first ? g : momentum b + (1 - dampening) g;
 *   p' = p - lr (nesterov ? g + momentum b' : b')
 */
const WORKGROUP = 256;
/** Workgroups per row of the dispatch grid; WebGPU guarantees 65,535 per dimension. */
const GRID_X = 32768;

const SHADER = `
struct Update {
  start : u32,
  end : u32,
  first : u32,
  nesterov : u32,
  lr : f32,
  momentum : f32,
  keep : f32,
  weightDecay : f32,
}
@group(0) @binding(0) var<storage, read_write> param : array<f32>;
@group(0) @binding(1) var<storage, read> grad : array<f32>;
@group(0) @binding(2) var<storage, read_write> buffer : array<f32>;
@group(0) @binding(3) var<uniform> u : Update;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  let index = u.start + id.y * ${GRID_X * WORKGROUP}u + id.x;
  if (index >= u.end) { return; }
  let p = param[index];
  let g = grad[index] + u.weightDecay * p;
  var b = g;
  if (u.first == 0u) { b = u.momentum * buffer[index] + u.keep * g; }
  buffer[index] = b;
  var step = b;
  if (u.nesterov == 1u) { step = g + u.momentum * b; }
  param[index] = p - u.lr * step;
}
`;

/** What tfjs-backend-webgpu keeps private but a kernel recording its own commands must use. */
interface BackendInternals {
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
}

/** One contiguous range of the flat buffers sharing a weight decay. */
interface Group {
  weightDecay: number;
  start: number;
  end: number;
  uniforms: GPUBuffer;
  bindGroup: GPUBindGroup;
}

/** The flat layout of one set of parameter shapes and weight decays, and its GPU objects. */
interface Plan {
  key: string;
  /** Flat element offset of each parameter (parameters sorted by weight decay). */
  offsets: number[];
  flat: { param: GPUBuffer; grad: GPUBuffer; buffer: GPUBuffer };
  groups: Group[];
}

const pipelines = new WeakMap<GPUDevice, GPUComputePipeline>();
const plans = new WeakMap<WebGPUBackend, Plan>();

function pipelineFor(device: GPUDevice): GPUComputePipeline {
  let pipeline = pipelines.get(device);
  if (!pipeline) {
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: 'main' } });
    pipelines.set(device, pipeline);
  }
  return pipeline;
}

function destroyPlan(plan: Plan): void {
  for (const b of Object.values(plan.flat)) b.destroy();
  for (const g of plan.groups) g.uniforms.destroy();
}

function planFor(backend: WebGPUBackend, sizes: number[], weightDecays: number[]): Plan {
  const key = `${sizes.join(',')}|${weightDecays.join(',')}`;
  const existing = plans.get(backend);
  if (existing?.key === key) return existing;
  if (existing) destroyPlan(existing);
  const device = backend.device;
  const decays = [...new Set(weightDecays)];
  const offsets = new Array<number>(sizes.length);
  const ranges: { weightDecay: number; start: number; end: number }[] = [];
  let total = 0;
  for (const weightDecay of decays) {
    const start = total;
    sizes.forEach((size, i) => {
      if (weightDecays[i] !== weightDecay) return;
      offsets[i] = total;
      total += size;
    });
    ranges.push({ weightDecay, start, end: total });
  }
  const storage = (label: string) => device.createBuffer({ label, size: Math.max(4, total * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const flat = { param: storage('sgd flat parameters'), grad: storage('sgd flat gradients'), buffer: storage('sgd flat momentum') };
  const pipeline = pipelineFor(device);
  const groups = ranges.map((range) => {
    const uniforms = device.createBuffer({ label: 'sgd update', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [flat.param, flat.grad, flat.buffer, uniforms].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { ...range, uniforms, bindGroup };
  });
  const plan = { key, offsets, flat, groups };
  plans.set(backend, plan);
  return plan;
}

export const sgdStep: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const internals = backend as unknown as BackendInternals;
  const a = args.attrs as unknown as SgdStepAttrs;
  const inputs = args.inputs as Record<string, TensorInfo>;
  const n = a.count;
  const params = Array.from({ length: n }, (_, i) => inputs[`param${i}`]);
  const grads = Array.from({ length: n }, (_, i) => inputs[`grad${i}`]);
  const buffers = Array.from({ length: n }, (_, i) => inputs[`buffer${i}`]);
  const sizes = params.map((p) => p.shape.reduce((x, y) => x * y, 1));
  const plan = planFor(backend, sizes, a.weightDecays);

  // The uniforms are written with queue.writeBuffer, which takes effect at the next submit, before
  // any command recorded until then: commands recorded earlier that read these uniforms (an
  // update not yet submitted) are submitted first.
  backend.endComputePassEncoder();
  if (internals.commandEncoder) backend.submitQueue();
  for (const g of plan.groups) {
    const values = new ArrayBuffer(32);
    new Uint32Array(values, 0, 4).set([g.start, g.end, a.first ? 1 : 0, a.nesterov ? 1 : 0]);
    new Float32Array(values, 16, 4).set([a.lr, a.momentum, 1 - a.dampening, g.weightDecay]);
    backend.queue.writeBuffer(g.uniforms, 0, values);
  }

  const gpuBuffer = (t: TensorInfo) => {
    backend.uploadToGPU(t.dataId);
    internals.commandQueueOwnedIds.add(t.dataId);
    return backend.tensorMap.get(t.dataId).resource as GPUBuffer;
  };
  const newParams = params.map((p) => backend.makeTensorInfo([...p.shape], 'float32'));
  const newBuffers = buffers.map((b) => backend.makeTensorInfo([...b.shape], 'float32'));

  backend.ensureCommandEncoderReady();
  const encoder = internals.commandEncoder!;
  for (let i = 0; i < n; i++) {
    const offset = plan.offsets[i] * 4;
    const bytes = sizes[i] * 4;
    encoder.copyBufferToBuffer(gpuBuffer(params[i]), 0, plan.flat.param, offset, bytes);
    encoder.copyBufferToBuffer(gpuBuffer(grads[i]), 0, plan.flat.grad, offset, bytes);
    encoder.copyBufferToBuffer(gpuBuffer(buffers[i]), 0, plan.flat.buffer, offset, bytes);
  }
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipelineFor(backend.device));
  for (const g of plan.groups) {
    const workgroups = Math.ceil((g.end - g.start) / WORKGROUP);
    if (workgroups === 0) continue;
    pass.setBindGroup(0, g.bindGroup);
    pass.dispatchWorkgroups(Math.min(workgroups, GRID_X), Math.ceil(workgroups / GRID_X));
  }
  pass.end();
  for (let i = 0; i < n; i++) {
    const offset = plan.offsets[i] * 4;
    const bytes = sizes[i] * 4;
    encoder.copyBufferToBuffer(plan.flat.param, offset, gpuBuffer(newParams[i]), 0, bytes);
    encoder.copyBufferToBuffer(plan.flat.buffer, offset, gpuBuffer(newBuffers[i]), 0, bytes);
  }
  return [...newParams, ...newBuffers];
};
