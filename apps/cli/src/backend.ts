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

/**
 * Activates the backend. With `auto`, what it skipped and why comes back as one clause for the
 * start line (`skipped`); other notices go to stderr unless quiet.
 */
export async function activateBackend(flags: BackendFlags, quiet = false): Promise<BackendInfo & { skipped?: string }> {
  const skipped: string[] = [];
  const info = await useBackend(flags.backend, { ...parseBackendOptions(flags.backendOption), kernels: flags.kernels, ...(flags.threads ? { threads: flags.threads } : {}) }, (notice) => {
    const auto = /^auto: skipped (\S+) \((.*)\)$/.exec(notice);
    if (auto) skipped.push(`${auto[1]}: ${shortReason(auto[2])}`);
    else if (!quiet) process.stderr.write(`${notice}\n`);
  });
  return flags.backend === 'auto' ? { ...info, skipped: skipped.join('; ') } : info;
}

/** The gist of why `auto` skipped a backend: a software adapter, a package not installed, or the reason's first clause. */
function shortReason(reason: string): string {
  if (/not preferred/.test(reason)) return `${reason.split(/[;(]/)[0].trim()} is a software adapter`;
  const missing = /package (\S+) is not installed/.exec(reason);
  if (missing) return `${missing[1]} is not installed`;
  return reason.split(';')[0];
}

/** The start line's account of the backend: what runs, and, when `auto` chose it, what it passed over. */
export function describeBackend(info: BackendInfo & { skipped?: string }): string {
  const chosen = info.skipped === undefined ? '' : ` (chosen by --backend auto${info.skipped ? `; skipped ${info.skipped}` : ''})`;
  return `backend: ${info.name} (${info.detail})${chosen}`;
}
