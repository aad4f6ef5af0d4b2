import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PyramidError } from '@pyramid/core';

/** A mistake in how the command was called (exit status 2, like a bad flag). */
export class UsageError extends PyramidError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** Prints one line for the error (and the stack with --verbose) and returns the exit status. */
export function reportError(error: unknown, verbose: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0];
  // Node's own file system errors (a full disk, a read-only folder) are the user's to fix, not bugs.
  const systemError = error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);
  if (error instanceof PyramidError || systemError) {
    process.stderr.write(`pyramid: error: ${firstLine}\n`);
  } else {
    process.stderr.write(`pyramid: unexpected error: ${firstLine}${verbose ? '' : ' (run with --verbose for details)'}\n`);
  }
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return error instanceof UsageError ? 2 : 1;
}

/** Writes one JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function percent(x: number, digits = 2): string {
  return `${(100 * x).toFixed(digits)}%`;
}

/** Throws a UsageError naming `flag` unless `file` can be written: its folder exists and is writable, and it is not a folder. */
export function assertWritable(file: string, flag: string): void {
  const folder = dirname(resolve(file));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`${flag} ${file}: the folder ${folder} does not exist`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${flag} ${file}: a folder, not a file`);
  try {
    accessSync(folder, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${file}: cannot write into ${folder} (${code === 'EROFS' ? 'read-only file system' : 'permission denied'})`);
  }
}
