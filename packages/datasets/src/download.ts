import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { DataError } from '@pyramid/core';
import { renameIntoPlace } from '@pyramid/core/node';

/**
 * Where downloaded datasets are kept: `dir` if given, else $PYRAMID_DATA_DIR, else
 * $XDG_CACHE_HOME/pyramidnet-ts/datasets, else ~/.cache/pyramidnet-ts/datasets.
 */
export function dataCacheDir(dir?: string): string {
  if (dir) return dir;
  if (process.env.PYRAMID_DATA_DIR) return process.env.PYRAMID_DATA_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'pyramidnet-ts', 'datasets');
}

export async function md5OfFile(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface DownloadOptions {
  url: string;
  /** The finished file; it appears only once complete and verified. */
  destination: string;
  md5?: string;
  /** Bytes received so far and the total when the server says it. */
  onProgress?: (received: number, total: number | null) => void;
}

/**
 * The error codes of a server that cannot be reached: no name resolution (no network, or no DNS),
 * a refused, reset or timed-out connection, no route.
 */
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EHOSTDOWN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** A download whose server could not be reached (as offline); `reason` is the system's own words. */
export class DownloadUnreachableError extends DataError {
  constructor(
    readonly url: string,
    readonly reason: string,
    hint = '',
    options?: { cause?: unknown },
  ) {
    super(`cannot download ${url}: ${reason}${hint}`, options);
  }
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

/**
 * Downloads `url` into `destination` through `destination.part`: an interrupted download leaves
 * only the .part file, which the next call resumes with an HTTP range request (or restarts when the
 * server ignores ranges). The file is renamed into place only when its length and MD5 are right;
 * a wrong checksum removes the .part file so that the next call starts afresh. A server that
 * cannot be reached throws DownloadUnreachableError.
 */
export async function download(options: DownloadOptions): Promise<void> {
  const { url, destination, md5, onProgress } = options;
  const part = `${destination}.part`;
  await mkdir(dirname(destination), { recursive: true });
  let offset = await sizeOf(part);
  let response: Response;
  try {
    response = await fetch(url, offset > 0 ? { headers: { Range: `bytes=${offset}-` } } : {});
  } catch (error) {
    // fetch rejects with "fetch failed" and the reason as its cause.
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error & { code?: string }) : null;
    const reason = cause?.message || cause?.code || (error as Error).message;
    if (cause?.code && UNREACHABLE.has(cause.code)) throw new DownloadUnreachableError(url, reason, '', { cause });
    throw new DataError(`cannot download ${url}: ${reason}`, { cause: cause ?? error });
  }
  if (response.status === 416 && offset > 0) {
    // The .part file is already complete (or longer than the file): verify it below.
  } else if (response.status !== 200 && response.status !== 206) {
    throw new DataError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  const resumed = response.status === 206;
  if (response.status === 200) offset = 0;
  const length = Number(response.headers.get('content-length'));
  const total = response.status === 416 ? offset : Number.isFinite(length) && length > 0 ? offset + length : null;
  if (response.status !== 416 && response.body) {
    const handle = await open(part, resumed ? 'a' : 'w');
    let received = offset;
    try {
      const reader = response.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw new DataError(
            `download of ${url} broke off after ${received} of ${total ?? '?'} bytes (${(error as Error).message}); run again to resume it`,
          );
        }
        if (chunk.done) break;
        await handle.write(chunk.value);
        received += chunk.value.length;
        onProgress?.(received, total);
      }
    } finally {
      await handle.close();
    }
    if (total !== null && received !== total) {
      throw new DataError(`download of ${url} broke off after ${received} of ${total} bytes; run again to resume it`);
    }
  }
  if (md5) {
    const actual = await md5OfFile(part);
    if (actual !== md5) {
      await rm(part, { force: true });
      throw new DataError(`${url}: checksum mismatch (MD5 ${actual}, expected ${md5}); the download was discarded, run again to fetch it afresh`);
    }
  }
  await renameIntoPlace(part, destination);
}
