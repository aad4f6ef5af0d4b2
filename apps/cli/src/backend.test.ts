import { listBackends, useBackend } from '@pyramid/core';
import { afterAll, describe, expect, it } from 'vitest';
import { activateBackend, describeBackend } from './backend';

describe('the backend a command runs on', () => {
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('says what auto chose and, in one clause each, what it skipped', async () => {
    const statuses = await listBackends();
    const info = await activateBackend({ backend: 'auto', kernels: 'project' }, true);
    const line = describeBackend(info);
    expect(line.startsWith(`backend: ${info.name} (`)).toBe(true);
    expect(line).toContain('(chosen by --backend auto');
    // Every installed backend that auto would rank above the one it chose is named with why it was passed over.
    const chosen = statuses.find((s) => s.name === info.name)!;
    for (const s of statuses.filter((s) => s.installed && s.priority > chosen.priority)) {
      expect(line).toContain(`${s.name}: `);
      if (s.available && s.preferred === false) expect(line).toMatch(new RegExp(`${s.name}: .* is a software adapter`));
    }
    expect(line.split('\n')).toHaveLength(1);
  });

  it('adds nothing to the line of a backend asked for by name', async () => {
    const info = await activateBackend({ backend: 'cpu', kernels: 'project' }, true);
    expect(describeBackend(info)).toBe(`backend: cpu (${info.detail})`);
  });
});
