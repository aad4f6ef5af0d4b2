/**
 * Counts what the WebGPU calls of a stretch of work create and record, by wrapping the methods of
 * the GPU* interfaces (on their prototypes, so every device and encoder is seen, tfjs's included).
 * The benchmark and the tests measure a training step with it: dispatches, passes and submits
 * set its host cost, and objects created after warm-up are host cost that a planned step avoids.
 */
export interface GpuWork {
  dispatches: number;
  computePasses: number;
  submits: number;
  copies: number;
  writeBuffers: number;
  buffers: number;
  bindGroups: number;
  shaderModules: number;
  pipelines: number;
}

const WATCHED: { iface: string; method: string; count: keyof GpuWork }[] = [
  { iface: 'GPUComputePassEncoder', method: 'dispatchWorkgroups', count: 'dispatches' },
  { iface: 'GPUComputePassEncoder', method: 'dispatchWorkgroupsIndirect', count: 'dispatches' },
  { iface: 'GPUCommandEncoder', method: 'beginComputePass', count: 'computePasses' },
  { iface: 'GPUCommandEncoder', method: 'copyBufferToBuffer', count: 'copies' },
  { iface: 'GPUQueue', method: 'submit', count: 'submits' },
  { iface: 'GPUQueue', method: 'writeBuffer', count: 'writeBuffers' },
  { iface: 'GPUDevice', method: 'createBuffer', count: 'buffers' },
  { iface: 'GPUDevice', method: 'createBindGroup', count: 'bindGroups' },
  { iface: 'GPUDevice', method: 'createShaderModule', count: 'shaderModules' },
  { iface: 'GPUDevice', method: 'createComputePipeline', count: 'pipelines' },
  { iface: 'GPUDevice', method: 'createComputePipelineAsync', count: 'pipelines' },
];

export function emptyGpuWork(): GpuWork {
  return { dispatches: 0, computePasses: 0, submits: 0, copies: 0, writeBuffers: 0, buffers: 0, bindGroups: 0, shaderModules: 0, pipelines: 0 };
}

export interface GpuWorkWatch {
  /** The counts since the watch began or was last taken, and starts counting afresh. */
  take(): GpuWork;
  /** Puts the original methods back. */
  stop(): void;
}

/** Starts counting; the GPU* interfaces must be installed (a browser's, or Dawn's after the plugin's setup). */
export function watchGpuWork(): GpuWorkWatch {
  let counts = emptyGpuWork();
  const restore: (() => void)[] = [];
  for (const { iface, method, count } of WATCHED) {
    const proto = (globalThis as unknown as Record<string, { prototype?: Record<string, unknown> } | undefined>)[iface]?.prototype;
    const original = proto?.[method];
    if (!proto || typeof original !== 'function') continue;
    proto[method] = function (this: unknown, ...args: unknown[]) {
      counts[count]++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    restore.push(() => {
      proto[method] = original;
    });
  }
  if (restore.length === 0) throw new Error('watchGpuWork: no GPU* interfaces are installed (set up the webgpu backend first)');
  return {
    take() {
      const taken = counts;
      counts = emptyGpuWork();
      return taken;
    },
    stop() {
      for (const r of restore.reverse()) r();
    },
  };
}
