import type { CompileRefusal, CompiledInference, CompiledStepSettings, CompiledTrainingStep, NetworkDescription } from '../network';
import { BackendUnavailableError, ConfigError } from '../errors';
import { isMissingModule } from '../modules';
import { type Availability, type BackendInfo, type BackendOptions, type BackendPlugin, isBackendPlugin } from './plugin';

/** Backends that ship as their own packages, loaded on demand. */
export const KNOWN_BACKEND_PACKAGES: Readonly<Record<string, string>> = {
  webgpu: '@pyramid/backend-webgpu',
  cuda: '@pyramid/backend-cuda',
};

export interface BackendStatus {
  name: string;
  packageName: string;
  installed: boolean;
  available: boolean;
  /** Why it cannot run (when unavailable). */
  reason?: string;
  /** What it found (when available). */
  detail?: string;
  preferred: boolean;
  priority: number;
  needs: readonly string[];
}

export type ModuleImporter = (specifier: string) => Promise<unknown>;

const defaultImporter: ModuleImporter = (specifier) => import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);

function installHint(packageName: string): string {
  return `package ${packageName} is not installed; install it with: npm install ${packageName}`;
}

export class BackendRegistry {
  private readonly plugins = new Map<string, BackendPlugin>();
  private readonly packages = new Map<string, string>(Object.entries(KNOWN_BACKEND_PACKAGES));
  private readonly importer: ModuleImporter;
  private active: BackendInfo | null = null;
  private activePlugin: BackendPlugin | null = null;

  constructor(importer: ModuleImporter = defaultImporter) {
    this.importer = importer;
  }

  /** Adds a plugin, or replaces the one of the same name. */
  register(plugin: BackendPlugin): void {
    if (!isBackendPlugin(plugin)) {
      throw new ConfigError('a backend plugin needs name, packageName, priority, needs, probe() and setup()');
    }
    this.plugins.set(plugin.name, plugin);
    this.packages.set(plugin.name, plugin.packageName);
  }

  /** Declares that backend `name` is provided by `packageName`, to be imported when asked for. */
  registerPackage(name: string, packageName: string): void {
    this.packages.set(name, packageName);
  }

  /** Every backend name the registry knows, registered or loadable by package. */
  names(): string[] {
    return [...this.packages.keys()];
  }

  /** The backend set up last by `use`, or null. */
  current(): BackendInfo | null {
    return this.active;
  }

  /**
   * A training step compiled by the active backend for `network`, or why there is none: the
   * backend does not compile steps, its stock kernels were asked for, or the network or recipe
   * uses what its compiler does not implement.
   */
  async compileTrainingStep(network: NetworkDescription, settings: CompiledStepSettings): Promise<CompiledTrainingStep | CompileRefusal> {
    const plugin = this.activePlugin;
    if (!plugin || !this.active) return { unsupported: 'no backend is set up' };
    if (!plugin.compileTrainingStep) return { unsupported: `the ${plugin.name} backend runs steps op by op` };
    if (this.active.kernels === 'stock') return { unsupported: `the ${plugin.name} backend runs its stock kernels` };
    return plugin.compileTrainingStep(network, settings);
  }

  /** Eval-mode inference compiled by the active backend for `network`, or why there is none. */
  async compileInference(network: NetworkDescription, batchSize: number): Promise<CompiledInference | CompileRefusal> {
    const plugin = this.activePlugin;
    if (!plugin || !this.active) return { unsupported: 'no backend is set up' };
    if (!plugin.compileInference) return { unsupported: `the ${plugin.name} backend runs inference op by op` };
    if (this.active.kernels === 'stock') return { unsupported: `the ${plugin.name} backend runs its stock kernels` };
    return plugin.compileInference(network, batchSize);
  }

  /**
   * The plugin for `name`, importing its package on first use. Throws BackendUnavailableError
   * naming the package to install when it is missing.
   */
  async load(name: string): Promise<BackendPlugin> {
    const registered = this.plugins.get(name);
    if (registered) return registered;
    const packageName = this.packages.get(name);
    if (!packageName) {
      throw new ConfigError(`unknown backend '${name}'; known backends: ${[...this.names(), 'auto'].join(', ')}`);
    }
    let module: unknown;
    try {
      module = await this.importer(packageName);
    } catch (error) {
      if (isMissingModule(error, packageName)) {
        throw new BackendUnavailableError(name, installHint(packageName), { cause: error });
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new BackendUnavailableError(name, `package ${packageName} failed to load: ${message}`, { cause: error });
    }
    const exported = module as { backendPlugin?: unknown; default?: { backendPlugin?: unknown } | unknown };
    const candidate =
      exported.backendPlugin ??
      (exported.default as { backendPlugin?: unknown } | undefined)?.backendPlugin ??
      exported.default;
    if (!isBackendPlugin(candidate) || candidate.name !== name) {
      throw new BackendUnavailableError(
        name,
        `package ${packageName} does not export a backend plugin named '${name}' ` +
          `(expected an export 'backendPlugin' with name, packageName, priority, needs, probe() and setup())`,
      );
    }
    this.register(candidate);
    return candidate;
  }

  /** Every known backend with its true availability, probing each. Never throws for one backend. */
  async list(): Promise<BackendStatus[]> {
    const statuses: BackendStatus[] = [];
    for (const [name, packageName] of this.packages) {
      let plugin: BackendPlugin;
      try {
        plugin = await this.load(name);
      } catch (error) {
        const reason = error instanceof BackendUnavailableError ? error.reason : String(error);
        statuses.push({ name, packageName, installed: false, available: false, reason, preferred: false, priority: 0, needs: [] });
        continue;
      }
      const availability = await this.safeProbe(plugin);
      statuses.push({
        name,
        packageName,
        installed: true,
        available: availability.available,
        ...(availability.available ? { detail: availability.detail } : { reason: availability.reason }),
        preferred: availability.available && availability.preferred !== false,
        priority: plugin.priority,
        needs: plugin.needs,
      });
    }
    return statuses.sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  }

  /**
   * Activates backend `name`, or with 'auto' the best available one. `onNotice` hears why
   * `auto` passed over a backend, and the backend's own notices.
   */
  async use(name: string, options: BackendOptions = {}, onNotice?: (notice: string) => void): Promise<BackendInfo> {
    let plugin: BackendPlugin;
    let passedOver: BackendInfo['passedOver'];
    if (name === 'auto') {
      const statuses = await this.list();
      const choice = statuses.find((s) => s.available && s.preferred);
      if (!choice) throw new BackendUnavailableError('auto', 'no backend is available, not even cpu');
      passedOver = statuses
        .filter((s) => s.priority > choice.priority && s.installed)
        .map((s) => ({ name: s.name, reason: s.available ? `${s.detail}; not preferred over ${choice.name}` : (s.reason ?? ''), available: s.available, detail: s.detail }));
      for (const s of passedOver) onNotice?.(`auto: skipped ${s.name} (${s.reason})`);
      plugin = await this.load(choice.name);
    } else {
      plugin = await this.load(name);
      const availability = await this.safeProbe(plugin);
      if (!availability.available) throw new BackendUnavailableError(name, availability.reason);
    }
    this.activePlugin = null;
    const info = await plugin.setup(options);
    this.active = passedOver ? { ...info, passedOver } : info;
    this.activePlugin = plugin;
    for (const notice of this.active.notices ?? []) onNotice?.(notice);
    return this.active;
  }

  private async safeProbe(plugin: BackendPlugin): Promise<Availability> {
    try {
      return await plugin.probe();
    } catch (error) {
      return { available: false, reason: `its probe failed: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
}
