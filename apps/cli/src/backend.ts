import { type BackendInfo, useBackend } from '@pyramid/core';
import { Option, type Command } from 'commander';
import { parseInteger } from './model-options';
import { UsageError } from './output';

export interface BackendFlags {
  backend: string;
  kernels: 'project' | 'stock';
  threads?: number;
  backendOption?: string[];
}

/** `--backend-option key=value`, repeatable: plugin options such as adapter=NAME or powerPreference=low-power. */
function parseBackendOptions(values: string[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const v of values) {
    const at = v.indexOf('=');
    if (at <= 0) throw new UsageError(`--backend-option takes key=value, got '${v}'`);
    const raw = v.slice(at + 1);
    out[v.slice(0, at)] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

export function addBackendOptions(command: Command): Command {
  return command
    .option('--backend <name>', 'cpu, webgpu, cuda or auto (the best available: a GPU, never a software one, else the CPU)', 'auto')
    .addOption(new Option('--kernels <which>', "the project's fast kernels or tfjs's stock ones").choices(['project', 'stock']).default('project'))
    .option('--threads <n>', 'CPU threads for the project kernels (default: all cores)', parseInteger('--threads', { min: 1, max: 1024 }))
    .option('--backend-option <key=value>', 'a backend plugin option, repeatable (webgpu: adapter=NAME, powerPreference=low-power, dawnBackend=vulkan)', (v: string, all: string[] = []) => [...all, v]);
}

/** Activates the backend; its own notices go to stderr unless quiet (what `auto` passed over is in the result). */
export async function activateBackend(flags: BackendFlags, quiet = false): Promise<BackendInfo> {
  const info = await useBackend(flags.backend, { ...parseBackendOptions(flags.backendOption), kernels: flags.kernels, ...(flags.threads ? { threads: flags.threads } : {}) });
  if (!quiet) for (const notice of info.notices ?? []) process.stderr.write(`${notice}\n`);
  return info;
}

/** Why `auto` passed over a backend, in a clause: a software adapter, or the first clause of its reason. */
function passedOverReason({ available, detail, reason }: NonNullable<BackendInfo['passedOver']>[number]): string {
  return available ? `${(detail ?? '').split('(')[0].trim()} is a software adapter` : reason.split(';')[0];
}

/** The start line's account of the backend: what runs, and, when `auto` chose it, what it passed over. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.passedOver?.map((s) => `${s.name}: ${passedOverReason(s)}`).join('; ');
  const chosen = skipped === undefined ? '' : ` (chosen by --backend auto${skipped ? `; skipped ${skipped}` : ''})`;
  return `backend: ${info.name} (${info.detail})${chosen}`;
}
