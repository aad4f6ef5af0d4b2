import { existsSync, linkSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@pyramid/core';
import { writeError } from '@pyramid/core/node';

/** The lock file of a run folder that a process trains in. */
export const LOCK_FILE = 'run.lock';

/** Who holds a run folder: written into the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

function readHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder?.pid) && typeof holder.host === 'string' ? holder : null;
  } catch {
    return null;
  }
}

/** Whether a process of this machine is alive (EPERM: alive, but another user's). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run folder `dir` for this process: its lock file is created exclusively, complete
 * with this process's id and host (written to a temporary file, then hard-linked to the lock's
 * name, which fails if the lock exists). A lock left by a process of this machine that no longer
 * runs, or one that cannot be read, is stale and taken over; a lock of a live process or of
 * another machine is refused, naming its holder. Returns the function that releases it.
 */
export function lockRunFolder(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    writeFileSync(temp, `${JSON.stringify(me)}\n`, { flag: 'wx' });
  } catch (error) {
    throw writeError(file, error);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, file);
        return () => {
          if (readHolder(file)?.pid === me.pid) unlinkSync(file);
        };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw writeError(file, error);
      }
      const holder = readHolder(file);
      if (holder && (holder.host !== me.host || isAlive(holder.pid))) {
        throw new ConfigError(`${dir} is in use: process ${holder.pid} on ${holder.host} has trained in it since ${holder.since}; wait for it or stop it (a lock of a crashed run on another machine: delete ${file})`);
      }
      // Stale: moved aside first, so that of two processes taking it over only one removes it.
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
        rmSync(aside, { force: true });
      } catch {
        // Another process moved it first; try again.
      }
    }
    throw new ConfigError(`${file}: could not take the run's lock`);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Cleans what a crash during an atomic write leaves in a run folder (call it holding the lock):
 * temporary files and folders (`*.tmp-*`) are removed; a retired checkpoint (`last.old-*`) whose
 * replacement never arrived is put back, and removed when its replacement is in place. Returns
 * one line per change.
 */
export function recoverRunFolder(dir: string): string[] {
  const changes: string[] = [];
  // Only the names this project writes: anything else in the folder is the user's.
  const written: [string, RegExp][] = [
    [dir, /^(run\.json|metrics\.jsonl)\.(tmp|old)-[\w-]+$/],
    [join(dir, 'checkpoints'), /^(last|best)\.(tmp|old)-[\w-]+$/],
    [join(dir, 'plots'), /^([\w-]+\.(?:png|svg))\.(tmp|old)-[\w-]+$/],
  ];
  for (const [folder, pattern] of written) {
    if (!existsSync(folder) || !statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const match = pattern.exec(name);
      const tmp = match?.[2] === 'tmp' ? match : null;
      const old = match?.[2] === 'old' ? match : null;
      if (tmp) {
        rmSync(path, { recursive: true, force: true });
        changes.push(`removed ${path}, a write cut short`);
      } else if (old) {
        const target = join(folder, old[1]);
        if (existsSync(target)) {
          rmSync(path, { recursive: true, force: true });
          changes.push(`removed ${path}, replaced by ${target}`);
        } else {
          renameSync(path, target);
          changes.push(`restored ${target} from ${path}, whose replacement was cut short`);
        }
      }
    }
  }
  return changes;
}
