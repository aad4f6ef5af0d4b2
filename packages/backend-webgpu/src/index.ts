import { type Availability, type BackendInfo, type BackendOptions, type BackendPlugin, type CompiledStepSettings, type NetworkDescription, isMissingModule } from '@pyramid/core';
import { WebGpuCompiledStep } from './step/compiled-step';
import { installWebGpuKernels, restoreStockWebGpuKernels } from './kernels/register';

/**
 * WebGPU through @tensorflow/tfjs-backend-webgpu. In browsers it uses `navigator.gpu`; in Node it
 * uses Dawn from the `webgpu` npm package, whose `navigator.gpu` and GPU* globals must exist before
 * the tfjs backend module is loaded (it registers itself only when it sees them).
 */

export interface WebGpuOptions extends BackendOptions {
  powerPreference?: 'low-power' | 'high-performance';
  /** Node: the adapter to use, by (part of) its name, e.g. 'NVIDIA H100'; Dawn lists them when none matches. */
  adapter?: string;
  /** Node: Dawn's backend, e.g. 'vulkan', 'metal', 'd3d12'. */
  dawnBackend?: string;
  /** Node: Dawn toggles and flags, e.g. ['enable-dawn-features=allow_unsafe_apis']. */
  dawnFlags?: string[];
}

type Gpu = { requestAdapter(options?: unknown): Promise<Adapter | null> };
type Adapter = {
  info?: AdapterInfo;
  requestAdapterInfo?: () => Promise<AdapterInfo>;
  features?: ReadonlySet<string>;
  limits?: Record<string, number>;
  requestDevice?: (descriptor?: unknown) => Promise<unknown>;
};
type AdapterInfo = { vendor?: string; architecture?: string; device?: string; description?: string };

const SOFTWARE_ADAPTERS = /llvmpipe|lavapipe|swiftshader|software/i;

export type Importer = (specifier: string) => Promise<unknown>;
const defaultImporter: Importer = (specifier) => import(/* @vite-ignore */ specifier);

/** The module, or null when it is not installed. */
async function importOptional(importer: Importer, specifier: string): Promise<unknown> {
  try {
    return await importer(specifier);
  } catch (error) {
    if (isMissingModule(error, specifier)) return null;
    throw error;
  }
}

/**
 * Dawn instances by their flags, made once per process: setting the backend up again reuses its
 * instance (an instance collected while another runs has crashed dawn.node).
 */
const dawnInstances = new Map<string, Gpu>();

/** Whether these options choose among Dawn's adapters or backends, which only a new Dawn instance can. */
function choosesDawn(options: WebGpuOptions): boolean {
  return Boolean(options.adapter || options.dawnBackend || options.dawnFlags?.length);
}

async function navigatorGpu(importer: Importer, options: WebGpuOptions): Promise<{ gpu: Gpu } | { reason: string }> {
  const existing = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
  const node = typeof process !== 'undefined' && Boolean(process.versions?.node);
  if (existing && !(node && choosesDawn(options))) return { gpu: existing };
  if (!node) {
    return { reason: 'this browser does not offer WebGPU (navigator.gpu is undefined)' };
  }
  const dawn = (await importOptional(importer, 'webgpu')) as { create(flags: string[]): Gpu; globals: object } | null;
  if (!dawn) return { reason: 'the package webgpu (Dawn for Node) is not installed; install it with: npm install webgpu' };
  const flags = [...(options.dawnFlags ?? [])];
  if (options.adapter) flags.push(`adapter=${options.adapter}`);
  if (options.dawnBackend) flags.push(`backend=${options.dawnBackend}`);
  const key = flags.join('\n');
  let gpu = dawnInstances.get(key);
  try {
    gpu ??= dawn.create(flags);
  } catch (error) {
    return { reason: `Dawn refused ${flags.join(' ')}: ${(error as Error).message}` };
  }
  dawnInstances.set(key, gpu);
  Object.assign(globalThis, dawn.globals);
  const g = globalThis as { navigator?: { gpu?: Gpu } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
  Object.defineProperty(g.navigator as object, 'gpu', { value: gpu, writable: true, configurable: true });
  return { gpu };
}

function describeAdapter(info: AdapterInfo): string {
  const name = info.description || info.device || info.architecture || info.vendor || 'unnamed adapter';
  const more = [info.vendor, info.architecture].filter((s) => s && !name.toLowerCase().includes(s.toLowerCase()));
  return more.length ? `${name} (${more.join(', ')})` : name;
}

async function findAdapter(importer: Importer, options: WebGpuOptions): Promise<{ adapter: Adapter; name: string; info: AdapterInfo } | { reason: string }> {
  const found = await navigatorGpu(importer, options);
  if ('reason' in found) return found;
  const adapter = await found.gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    return {
      reason:
        'no WebGPU adapter was found: Dawn needs a Vulkan driver (on Linux without a GPU, Mesa 25 lavapipe: ' +
        'apt-get install -t bookworm-backports mesa-vulkan-drivers)',
    };
  }
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  return { adapter, name: describeAdapter(info), info };
}

/**
 * The device the backend runs on, requested from the adapter the options chose: the features and
 * limits tfjs-backend-webgpu asks for (its kernels size their workgroups and buffers by them).
 */
async function requestDevice(adapter: Adapter): Promise<GPUDevice> {
  const features = adapter.features ?? new Set<string>();
  const limits = adapter.limits ?? {};
  const requiredFeatures = ['timestamp-query'].filter((f) => features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage']) {
    if (typeof limits[name] === 'number') requiredLimits[name] = limits[name];
  }
  if (!adapter.requestDevice) throw new Error('the WebGPU adapter cannot create a device');
  return (await adapter.requestDevice({ requiredFeatures, requiredLimits })) as GPUDevice;
}

/** Submits what tfjs has recorded, so that a compiled plan's uploads follow it in queue order. */
async function flushTfjs(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const backend = tf.findBackend('webgpu') as { commandEncoder?: object | null; endComputePassEncoder?(): void; submitQueue?(): void } | null;
  backend?.endComputePassEncoder?.();
  if (backend?.commandEncoder) backend.submitQueue?.();
}

/** The plugin; `importer` loads its optional packages (replaced in tests to simulate them missing). */
export function createWebGpuPlugin(importer: Importer = defaultImporter): BackendPlugin {
  let active: GPUDevice | null = null;
  return {
    name: 'webgpu',
    packageName: '@pyramid/backend-webgpu',
    description: 'WebGPU through @tensorflow/tfjs-backend-webgpu (browsers; Dawn in Node)',
    needs: ['@tensorflow/tfjs-backend-webgpu', 'navigator.gpu (browser) or the webgpu package (Node)', 'a WebGPU adapter'],
    priority: 20,

    async probe(): Promise<Availability> {
      const found = await findAdapter(importer, {});
      if ('reason' in found) return { available: false, reason: found.reason };
      const software = SOFTWARE_ADAPTERS.test(found.name);
      const detail = software && !/software/i.test(found.name) ? `${found.name} (software)` : found.name;
      return { available: true, detail, preferred: !software };
    },

    async setup(options: WebGpuOptions = {}): Promise<BackendInfo> {
      const found = await findAdapter(importer, options);
      if ('reason' in found) throw new Error(found.reason);
      const tf = await import('@tensorflow/tfjs-core');
      const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
      // The backend runs on the device of the adapter chosen here (tfjs's own registration would
      // request another adapter from navigator.gpu, ignoring the options).
      const device = await requestDevice(found.adapter);
      active = device;
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => new WebGPUBackend(device, found.info as GPUAdapterInfo), 3);
      if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise the webgpu backend');
      await tf.ready();
      const kernels = options.kernels ?? 'project';
      if (kernels === 'project') installWebGpuKernels();
      else restoreStockWebGpuKernels();
      return { name: 'webgpu', tfjsBackend: 'webgpu', detail: found.name, kernels };
    },

    async compileTrainingStep(network: NetworkDescription, settings: CompiledStepSettings) {
      if (!active) throw new Error('compileTrainingStep: set up the webgpu backend first');
      await flushTfjs();
      return WebGpuCompiledStep.compile({ device: active, maxBinding: active.limits.maxStorageBufferBindingSize }, network, settings);
    },

    async compileInference(network: NetworkDescription, batchSize: number) {
      if (!active) throw new Error('compileInference: set up the webgpu backend first');
      await flushTfjs();
      return WebGpuCompiledStep.compileInference({ device: active, maxBinding: active.limits.maxStorageBufferBindingSize }, network, batchSize);
    },
  };
}

export const backendPlugin: BackendPlugin = createWebGpuPlugin();
export { watchGpuWork, emptyGpuWork, type GpuWork, type GpuWorkWatch } from './gpu-work';
