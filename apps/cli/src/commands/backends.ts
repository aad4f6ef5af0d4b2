import { listBackends } from '@pyramid/core';
import type { Command } from 'commander';
import { printJson } from '../output';

export function backendsCommand(program: Command): void {
  program
    .command('backends')
    .description('list every backend with its availability, and the reason when it cannot run')
    .option('--json', 'print JSON: [{name, package, installed, available, reason, detail, preferred, priority, needs}]')
    .action(async (flags: { json?: boolean }) => {
      const statuses = await listBackends();
      if (flags.json) {
        printJson(statuses.map((s) => ({ name: s.name, package: s.packageName, installed: s.installed, available: s.available, reason: s.reason ?? null, detail: s.detail ?? null, preferred: s.preferred, priority: s.priority, needs: s.needs })));
        return;
      }
      const width = Math.max(...statuses.map((s) => s.name.length));
      for (const s of statuses) {
        const state = s.available ? `available  ${s.detail}${s.preferred ? '' : ' (auto prefers the CPU over it)'}` : `unavailable: ${s.reason}`;
        process.stdout.write(`${s.name.padEnd(width)}  ${state}\n`);
      }
    });
}
