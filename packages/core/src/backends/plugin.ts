import type { CompileRefusal, CompiledInference, CompiledStepSettings, CompiledTrainingStep, NetworkDescription } from '../network';

/**
 * The contract every backend plugin fulfils. A plugin is a plain object, usually exported as
 * `backendPlugin` from its own npm package, so that the registry can find it by name through a
 * dynamic import and users install only the backends they want.
 */
export type Availability =
  | {
      available: true;
      /** What was found, e.g. the adapter or device name. */
      detail: string;
      /**
       * False when the backend runs but `auto` should not pick it over the CPU, e.g. WebGPU on a
       * software Vulkan device. Defaults to true.
       */
      preferred?: boolean;
    }
  | {
      available: false;
      /** One sentence a user can act on: what is missing and how to get it. */
      reason: string;
    };

export interface BackendOptions {
  /** 'project' (default) registers the project's fast kernels; 'stock' keeps tfjs's own. */
  kernels?: 'project' | 'stock';
  /** Plugin-specific settings (adapter choice, toggles, ...). */
  [option: string]: unknown;
}

export interface BackendInfo {
  /** The plugin's name: 'cpu', 'webgpu', 'cuda', ... */
  name: string;
  /** The name of the tfjs backend that is now active. */
  tfjsBackend: string;
  /** What is in use, in words (device, adapter, threads). */
  detail: string;
  kernels: 'project' | 'stock';
  /** Lines a user should see once, e.g. that a faster path could not be used and why. */
  notices?: string[];
  /**
   * Set when `auto` chose this backend: the installed backends it ranks higher and passed over,
   * with why (`available`: it runs, but is not preferred, e.g. on a software adapter).
   */
  passedOver?: { name: string; reason: string; available: boolean; detail?: string }[];
}

export interface BackendPlugin {
  readonly name: string;
  /** The npm package that provides this plugin. */
  readonly packageName: string;
  readonly description: string;
  /** What the plugin needs to run, in words, for `pyramid backends`. */
  readonly needs: readonly string[];
  /** `auto` picks the available, preferred plugin with the highest priority. */
  readonly priority: number;
  /** Checks, without side effects on the engine, whether the backend can run here. */
  probe(): Promise<Availability>;
  /** Loads and activates the backend in the shared tfjs engine. */
  setup(options?: BackendOptions): Promise<BackendInfo>;
  /**
   * Optional, after `setup`: a whole training step planned once for `network` and replayed, or
   * why this network or recipe is not supported (the op-by-op step then runs it).
   */
  compileTrainingStep?(network: NetworkDescription, settings: CompiledStepSettings): Promise<CompiledTrainingStep | CompileRefusal>;
  /** Optional, after `setup`: eval-mode inference of `network` planned once and replayed, or why not. */
  compileInference?(network: NetworkDescription, batchSize: number): Promise<CompiledInference | CompileRefusal>;
}

export function isBackendPlugin(value: unknown): value is BackendPlugin {
  const p = value as Partial<BackendPlugin> | null;
  return (
    p != null &&
    typeof p === 'object' &&
    typeof p.name === 'string' &&
    typeof p.packageName === 'string' &&
    typeof p.priority === 'number' &&
    Array.isArray(p.needs) &&
    typeof p.probe === 'function' &&
    typeof p.setup === 'function'
  );
}
