import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRunFolder } from './run-lock';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-lock-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const folder = (name: string) => mkdtempSync(join(scratch, `${name}-`));

describe('lockRunFolder', () => {
  it('writes the holder, refuses a second taker while held, and removes only its own lock', () => {
    const dir = folder('held');
    const release = lockRunFolder(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => lockRunFolder(dir)).toThrow(`${dir} is in use: process ${process.pid} on ${hostname()}`);
    release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a process that has exited, and one cut short before its holder was written', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    for (const content of [JSON.stringify({ pid: dead, host: hostname(), since: 'then' }), '']) {
      const dir = folder('stale');
      writeFileSync(join(dir, LOCK_FILE), content);
      const release = lockRunFolder(dir);
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      release();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    }
  });

  it('refuses a lock held on another machine, whose process it cannot check', () => {
    const dir = folder('remote');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'another-machine', since: '2026-11-30T00:00:00.000Z' }));
    expect(() => lockRunFolder(dir)).toThrow(
      `${dir} is in use: process 1 on another-machine has trained in it since 2026-11-30T00:00:00.000Z; wait for it or stop it (a lock of a crashed run on another machine: delete ${join(dir, LOCK_FILE)})`,
    );
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });
});
