import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { renameIntoPlace, writeFileAtomically, writeFolderAtomically } from './atomic-write';

const folders: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-atomic-'));
  folders.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomically', () => {
  it('replaces a file with the whole new content and leaves no temporary file', async () => {
    const dir = scratch();
    const file = join(dir, 'run.json');
    writeFileSync(file, 'old content that is longer than the new one');
    await writeFileAtomically(file, 'new');
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['run.json']);
  });

  it('on failure leaves the target as it was and removes its temporary file', async () => {
    const dir = scratch();
    // A non-empty folder where the file should go: the final rename fails.
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'kept');
    await expect(writeFileAtomically(target, new Uint8Array(1000))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readFileSync(join(target, 'keep.txt'), 'utf8')).toBe('kept');
  });

  it('killed while writing, leaves the file complete or absent', async () => {
    // A child process writes 32 MiB through the built helper and is killed part-way (SIGKILL:
    // no clean-up runs); whatever the timing, the file is never a prefix of the content.
    const entry = fileURLToPath(new URL('../../dist/node.js', import.meta.url));
    const dir = scratch();
    const file = join(dir, 'weights.bin');
    const size = 32 * 1024 * 1024;
    const code = `import { writeFileAtomically } from ${JSON.stringify(entry)};
      const bytes = new Uint8Array(${size}).fill(7);
      process.stdout.write('go\\n');
      await writeFileAtomically(${JSON.stringify(file)}, bytes);
      process.stdout.write('done\\n');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    if (existsSync(file)) {
      const written = readFileSync(file);
      expect(written.length).toBe(size);
      expect(written.every((b) => b === 7)).toBe(true);
    }
  });
});

describe('renameIntoPlace', () => {
  it('moves a finished file onto its target', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'data.part'), 'complete');
    writeFileSync(join(dir, 'data'), 'stale');
    await renameIntoPlace(join(dir, 'data.part'), join(dir, 'data'));
    expect(readdirSync(dir)).toEqual(['data']);
    expect(readFileSync(join(dir, 'data'), 'utf8')).toBe('complete');
  });
});

describe('writeFolderAtomically', () => {
  it('writes the files given by name, replacing a previous folder and all its files', async () => {
    const dir = join(scratch(), 'checkpoints', 'last');
    await writeFolderAtomically(dir, { 'config.json': '{"a":1}', 'old.bin': new Uint8Array([1]) });
    await writeFolderAtomically(dir, { 'config.json': '{"a":2}', 'model.safetensors': new Uint8Array([1, 2, 3]) });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"a":2}');
    expect([...readFileSync(join(dir, 'model.safetensors'))]).toEqual([1, 2, 3]);
    expect(readdirSync(join(dir, '..'))).toEqual(['last']);
  });

  it('takes a function that fills the folder, subfolders included', async () => {
    const dir = join(scratch(), 'extracted');
    await writeFolderAtomically(dir, async (folder) => {
      mkdirSync(join(folder, 'sub'));
      writeFileSync(join(folder, 'sub', 'a.txt'), 'a');
      writeFileSync(join(folder, 'b.txt'), 'b');
    });
    expect(readFileSync(join(dir, 'sub', 'a.txt'), 'utf8')).toBe('a');
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('b');
  });

  it('on failure keeps the previous folder and removes the temporary one', async () => {
    const root = scratch();
    const dir = join(root, 'cache');
    await writeFolderAtomically(dir, { 'data.bin': 'previous' });
    await expect(
      writeFolderAtomically(dir, async (folder) => {
        writeFileSync(join(folder, 'data.bin'), 'half');
        throw new Error('the archive broke off');
      }),
    ).rejects.toThrow('the archive broke off');
    expect(readdirSync(root)).toEqual(['cache']);
    expect(readFileSync(join(dir, 'data.bin'), 'utf8')).toBe('previous');
  });
});

describe('write errors', () => {
  it('name the target, not its temporary file, and say why in words', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a-file'), 'mine');
    const file = join(dir, 'a-file', 'run.json');
    await expect(writeFileAtomically(file, 'x')).rejects.toThrow(`cannot write ${file}: a part of its path is a file, not a folder`);
    const folder = join(dir, 'a-file', 'checkpoints', 'last');
    const error = await writeFolderAtomically(folder, { 'config.json': '{}' }).catch((e: unknown) => e as NodeJS.ErrnoException);
    expect(error?.message).toBe(`cannot write ${folder}: a part of its path is a file, not a folder`);
    expect(error?.code).toBe('ENOTDIR');
    expect(readFileSync(join(dir, 'a-file'), 'utf8')).toBe('mine');
  });
});
