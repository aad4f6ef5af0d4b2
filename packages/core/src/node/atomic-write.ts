import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

const WRITE_PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on the disk',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of its path is a file, not a folder',
  EISDIR: 'a folder is in the way',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * A failed write as one line naming what was being written (not its temporary file) and why,
 * keeping the system error's `code`; other errors are returned as they are.
 */
export function writeError(target: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code) || (error as NodeJS.ErrnoException).syscall === undefined) return error;
  return Object.assign(new Error(`cannot write ${target}: ${WRITE_PROBLEMS[code] ?? code}`, { cause: error }), { code, path: target });
}

/** A folder's content: files by name, or a function that writes them into the folder it is given. */
export type FolderContent = Record<string, string | Uint8Array> | ((folder: string) => Promise<void>);

const unique = () => `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

async function syncPath(path: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `folder` durable. Windows cannot open folders for syncing; it has nothing to sync there. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  await syncPath(folder, 'r');
}

async function writeDurably(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves a finished `temp` file onto `target`: the file's bytes reach the disk before the rename,
 * and the rename reaches the disk before this returns, so after a crash `target` is either the
 * old file or the whole new one.
 */
export async function renameIntoPlace(temp: string, target: string): Promise<void> {
  await syncPath(temp, 'r+');
  await rename(temp, target);
  await syncFolder(dirname(resolve(target)));
}

/** Writes `file` whole or not at all: into a temporary sibling, synced, then renamed over it. */
export async function writeFileAtomically(file: string, content: string | Uint8Array): Promise<void> {
  const temp = `${file}.tmp-${unique()}`;
  try {
    await writeDurably(temp, content);
    await renameIntoPlace(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw writeError(file, error);
  }
}

async function syncTree(folder: string): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else if (entry.isFile()) await syncPath(path, 'r+');
  }
  await syncFolder(folder);
}

/**
 * Writes the folder `dir` whole or not at all: its files go into a temporary sibling folder, are
 * synced, and the folder is renamed into place, replacing any folder of that name. A crash leaves
 * the old folder or the new one, never a folder that looks complete but is not; a failure leaves
 * the old folder and no temporary one.
 */
export async function writeFolderAtomically(dir: string, content: FolderContent): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const tag = unique();
  const staging = `${target}.tmp-${tag}`;
  try {
    await mkdir(parent, { recursive: true });
    await mkdir(staging);
  } catch (error) {
    throw writeError(dir, error);
  }
  try {
    if (typeof content === 'function') {
      await content(staging);
      await syncTree(staging);
    } else {
      for (const [name, bytes] of Object.entries(content)) await writeDurably(join(staging, name), bytes);
      await syncFolder(staging);
    }
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (exists) {
      const retired = `${target}.old-${tag}`;
      await rename(target, retired);
      try {
        await rename(staging, target);
      } catch (error) {
        await rename(retired, target);
        throw error;
      }
      await rm(retired, { recursive: true, force: true });
    } else {
      await rename(staging, target);
    }
    await syncFolder(parent);
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw writeError(dir, error);
  }
}
