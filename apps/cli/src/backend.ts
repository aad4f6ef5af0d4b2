import { type BackendInfo, useBackend } from '@pyramid/core';
import { Option, type Command } from 'commander';
import { parseInteger } from './model-options';

export interface BackendFlags {
  backend: string;
  kernels: 'project' | 'stock';
  threads?: number;
}

export function addBackendOptions(command: Command): Command {
  return command
    .option('--backend <name>', 'cpu, webgpu, cuda or auto', 'cpu')
    .addOption(new Option('--kernels <which>', "the project's fast kernels or tfjs's stock ones").choices(['project', 'stock']).default('project'))
    .option('--threads <n>', 'CPU threads for the project kernels (default: all cores)', parseInteger('--threads'));
}

/** Activates the backend; `auto` notices go to stderr unless quiet. */
export async function activateBackend(flags: BackendFlags, quiet = false): Promise<BackendInfo> {
  return useBackend(flags.backend, { kernels: flags.kernels, ...(flags.threads ? { threads: flags.threads } : {}) }, (notice) => {
    if (!quiet) process.stderr.write(`${notice}\n`);
  });
}
