import { DataError } from '@pyramid/core';

export interface TarEntry {
  /** Path inside the archive, '/'-separated, without a leading './'. */
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Uint8Array;
}

const BLOCK = 512;

function text(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return new TextDecoder('utf-8').decode(block.subarray(offset, end));
}

function octal(block: Uint8Array, offset: number, length: number, source: string, field: string): number {
  // GNU base-256 for sizes of 8 GiB and more: the high bit of the first byte.
  if (block[offset] & 0x80) {
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i];
    return value;
  }
  const s = text(block, offset, length).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new DataError(`${source}: corrupt tar header (${field} is '${s}')`);
  return parseInt(s, 8);
}

function checksumOk(block: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  const stored = parseInt(text(block, 148, 8).trim(), 8);
  return stored === sum;
}

/**
 * Reads a tar stream (ustar, with GNU long names and pax path records) chunk by chunk, yielding
 * each entry with its data. A truncated archive or a corrupt header is an error naming `source`.
 */
export async function* readTar(chunks: AsyncIterable<Uint8Array>, source: string): AsyncGenerator<TarEntry> {
  let buffer = new Uint8Array(0);
  let done = false;
  const iterator = chunks[Symbol.asyncIterator]();
  const need = async (n: number): Promise<boolean> => {
    while (buffer.length < n && !done) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        break;
      }
      const merged = new Uint8Array(buffer.length + next.value.length);
      merged.set(buffer);
      merged.set(next.value, buffer.length);
      buffer = merged;
    }
    return buffer.length >= n;
  };
  const take = (n: number): Uint8Array => {
    const out = buffer.slice(0, n);
    buffer = buffer.subarray(n);
    return out;
  };

  let longName: string | null = null;
  for (;;) {
    if (!(await need(BLOCK))) {
      if (buffer.length === 0) return; // no end-of-archive blocks: tolerated, as GNU tar does
      throw new DataError(`${source}: truncated tar archive (a header is cut short)`);
    }
    const header = take(BLOCK);
    if (header.every((b) => b === 0)) return; // end of archive
    if (!checksumOk(header)) throw new DataError(`${source}: corrupt tar header (checksum mismatch)`);
    const size = octal(header, 124, 12, source, 'size');
    const typeflag = String.fromCharCode(header[156] || 48);
    const magic = text(header, 257, 6);
    const prefix = magic.startsWith('ustar') ? text(header, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    longName = null;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (!(await need(padded))) throw new DataError(`${source}: truncated tar archive ('${name}' needs ${size} bytes)`);
    const data = take(padded).subarray(0, size);
    if (typeflag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (typeflag === 'x') {
      const path = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data))?.[1];
      if (path) longName = path;
      continue;
    }
    if (typeflag === 'g') continue;
    name = name.replace(/^\.\//, '');
    const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other';
    yield { name, type, data };
  }
}

/** Chunks of a file, gunzipped when it starts with the gzip magic bytes. */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const { createReadStream } = await import('node:fs');
  const { open } = await import('node:fs/promises');
  const { createGunzip } = await import('node:zlib');
  const handle = await open(path, 'r');
  const head = new Uint8Array(2);
  await handle.read(head, 0, 2, 0);
  await handle.close();
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const stream = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } catch (error) {
    throw new DataError(`${path}: ${(error as Error).message} (corrupt or truncated archive)`);
  }
}

/** Builds a ustar archive in memory (tests and fixtures). */
export function writeTar(entries: { name: string; data?: Uint8Array; type?: 'file' | 'directory' }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const e of entries) {
    const header = new Uint8Array(BLOCK);
    const data = e.data ?? new Uint8Array(0);
    const put = (s: string, offset: number, length: number) => header.set(encoder.encode(s).subarray(0, length), offset);
    put(e.name, 0, 100);
    put('0000644\0', 100, 8);
    put('0000000\0', 108, 8);
    put('0000000\0', 116, 8);
    put(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 12);
    put('00000000000\0', 136, 12);
    header[156] = (e.type === 'directory' ? '5' : '0').charCodeAt(0);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    header.fill(32, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    parts.push(header, data, new Uint8Array((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
