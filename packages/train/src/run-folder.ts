import { appendFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@pyramid/core';
import { writeError, writeFileAtomically } from '@pyramid/core/node';
import { type RunConfig, validateRunConfig } from './run-config';
import { LOCK_FILE } from './run-lock';

/**
 * A run folder:
 *   run.json                 the full run configuration (rewritten only when a resumed run is extended)
 *   metrics.jsonl            one JSON record per line: steps, epochs, evaluations
 *   checkpoints/last/        the latest checkpoint (a loadable model checkpoint + training state)
 *   checkpoints/best/        the checkpoint with the best test top-1 so far
 *   plots/                   loss, accuracy and learning rate per epoch (PNG and SVG)
 */
export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
export const LAST = join('checkpoints', 'last');
export const BEST = join('checkpoints', 'best');

export interface MetricRecord {
  kind: 'step' | 'epoch';
  step: number;
  epoch: number;
  [key: string]: unknown;
}

/** Throws unless `dir` is absent or empty: a new run never writes into someone's files. */
export function assertRunFolderFree(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new ConfigError(`${dir} is a file, not a folder; choose another --run`);
  if (existsSync(dir) && readdirSync(dir).some((name) => name !== LOCK_FILE)) {
    const hint = existsSync(join(dir, RUN_FILE)) ? `; continue it with --resume ${dir}, or choose another --run` : '; choose another --run';
    throw new ConfigError(`${dir} already holds files${hint}`);
  }
}

/** Creates a new run folder with its run.json; refuses one that already holds anything. */
export async function createRunFolder(dir: string, config: unknown): Promise<void> {
  assertRunFolderFree(dir);
  await mkdir(join(dir, 'checkpoints'), { recursive: true });
  await writeFileAtomically(join(dir, RUN_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** Replaces an existing run's run.json atomically (a run extended to more epochs). */
export async function writeRunConfig(dir: string, config: unknown): Promise<void> {
  await writeFileAtomically(join(dir, RUN_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** Reads a run folder's run.json, validated: a file of something else is refused here, by name. */
export function readRunConfig<T = RunConfig>(dir: string): T {
  const file = join(dir, RUN_FILE);
  if (!existsSync(file)) throw new ConfigError(`${dir} is not a run folder: ${RUN_FILE} is missing`);
  let config: RunConfig;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  validateRunConfig(config, file);
  return config as T;
}

export class MetricsLog {
  constructor(readonly file: string) {}

  append(record: MetricRecord): void {
    try {
      appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    } catch (error) {
      throw writeError(this.file, error);
    }
  }

  read(): MetricRecord[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as MetricRecord];
        } catch {
          return []; // a line cut short by a crash
        }
      });
  }

  /**
   * Drops the records of steps after `step`: a resumed run computes those steps again, and its
   * log must read as if it had never stopped.
   */
  async truncateAfter(step: number): Promise<void> {
    const kept = this.read().filter((r) => r.step <= step);
    await writeFileAtomically(this.file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}
