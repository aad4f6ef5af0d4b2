import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { fileChunks, readTar, writeTar } from './tar';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-tar-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function entries(path: string) {
  const out: { name: string; type: string; text: string }[] = [];
  for await (const e of readTar(fileChunks(path), path)) out.push({ name: e.name, type: e.type, text: new TextDecoder().decode(e.data) });
  return out;
}

describe('readTar', () => {
  it('reads an archive made by GNU tar and gzip, long names included', async () => {
    // Independent writer: the system's tar.
    const dir = join(scratch, 'tree');
    const long = `${'x'.repeat(120)}.txt`;
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'a.txt'), 'hello');
    writeFileSync(join(dir, long), 'long name');
    const archive = join(scratch, 'tree.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', scratch, 'tree']);
    const found = (await entries(archive)).filter((e) => e.type === 'file').sort((a, b) => a.name.localeCompare(b.name));
    expect(found.map((e) => [e.name, e.text])).toEqual([
      ['tree/sub/a.txt', 'hello'],
      [`tree/${long}`, 'long name'],
    ].sort((a, b) => a[0].localeCompare(b[0])));
  });

  it('writes archives that GNU tar reads', () => {
    const archive = join(scratch, 'mine.tar');
    writeFileSync(archive, writeTar([{ name: 'd/', type: 'directory' }, { name: 'd/f.bin', data: new Uint8Array([1, 2, 3]) }]));
    expect(execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' })).toMatch(/d\/f\.bin/);
  });

  it('reports a truncated archive and a corrupt header', async () => {
    const good = writeTar([{ name: 'f', data: new Uint8Array(2000) }]);
    const cut = join(scratch, 'cut.tar.gz');
    writeFileSync(cut, gzipSync(good.subarray(0, 1000)));
    await expect(entries(cut)).rejects.toThrow(`${cut}: truncated tar archive ('f' needs 2000 bytes)`);
    const bad = good.slice();
    bad[130] = 0x39; // a digit 9 in the octal size field breaks the header checksum
    const corrupt = join(scratch, 'corrupt.tar');
    writeFileSync(corrupt, bad);
    await expect(entries(corrupt)).rejects.toThrow(`${corrupt}: corrupt tar header (checksum mismatch)`);
    const notGzip = join(scratch, 'broken.tar.gz');
    writeFileSync(notGzip, Buffer.concat([gzipSync(good).subarray(0, 40)]));
    await expect(entries(notGzip)).rejects.toThrow(/corrupt or truncated archive|truncated tar archive/);
  });
});
