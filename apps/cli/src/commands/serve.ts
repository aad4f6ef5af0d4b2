import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseInteger } from '../model-options';
import { UsageError } from '../output';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Cross-origin isolation: with these the page is `crossOriginIsolated`, so SharedArrayBuffer and
 * WebAssembly threads are open to it. Everything the page loads comes from this server.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

/** Seconds a client waits before asking again for a checkpoint that a training run is rewriting. */
export const CHECKPOINT_RETRY_SECONDS = 1;

const isCheckpointFolder = (dir: string) => existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors'));

/** The checkpoint a folder names: itself, or a run folder's best (else last) checkpoint. */
export function checkpointOf(folder: string): string {
  for (const dir of [folder, join(folder, 'checkpoints', 'best'), join(folder, 'checkpoints', 'last')]) {
    if (isCheckpointFolder(dir)) return dir;
  }
  throw new UsageError(`${folder}: neither a checkpoint folder nor a run folder with checkpoints`);
}

/**
 * Where the served checkpoint is now. A run folder's checkpoints are replaced while it trains, so
 * it is looked up on every request (best once there is one, else last).
 */
function checkpointSource(folder: string): () => string {
  const fixed = checkpointOf(folder);
  if (fixed === folder) return () => folder;
  return () => {
    const best = join(folder, 'checkpoints', 'best');
    return existsSync(best) ? best : join(folder, 'checkpoints', 'last');
  };
}

/** 127.0.0.0/8, ::1 and localhost: addresses that only this machine reaches. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * Whether a request's Host header may be answered. DNS rebinding points a name the attacker
 * controls at this machine, so a name is answered only when it is the address the server was
 * bound to or, on loopback, localhost; literal IP addresses cannot be rebound and are answered.
 */
export function hostAllowed(header: string | undefined, boundHost: string): boolean {
  if (!header) return false;
  const match = /^(\[[^\]]*\]|[^:]+)(?::(\d+))?$/.exec(header.trim());
  if (!match) return false;
  const name = match[1].replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(name)) return true;
  if (name === boundHost.replace(/^\[|\]$/g, '').toLowerCase()) return true;
  return name === 'localhost' && isLoopback(boundHost);
}

/** A request that cannot be answered, with its HTTP status and extra headers. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ServeOptions {
  /** The built web page's folder. */
  web: string;
  /** A checkpoint folder or a run folder; null publishes no checkpoint. */
  folder: string | null;
  /** The address the server is bound to, for the Host check. */
  host: string;
}

/** Answers one request; every failure becomes an HTTP status, never an exception that ends the server. */
export function createRequestHandler({ web, folder, host }: ServeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const checkpoint = folder ? checkpointSource(folder) : null;
  const webRoot = resolve(web);

  async function fileFor(req: IncomingMessage): Promise<{ file: string; body: Buffer | null }> {
    if (!hostAllowed(req.headers.host, host)) throw new HttpError(403, `Host '${req.headers.host ?? ''}' is not served here`);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET and HEAD', { allow: 'GET, HEAD' });
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      throw new HttpError(400, 'malformed URL');
    }
    if (path.includes('\0')) throw new HttpError(400, 'malformed URL');
    if (path.startsWith('/checkpoint/')) {
      const name = path.slice('/checkpoint/'.length);
      if (!checkpoint || (name !== 'config.json' && name !== 'model.safetensors')) throw new HttpError(404, 'not found');
      const file = join(checkpoint(), name);
      try {
        return { file, body: req.method === 'HEAD' ? (statSync(file), null) : await readFile(file) };
      } catch (error) {
        // A training run replaces its checkpoint folder by renames: for a moment it is absent.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new HttpError(503, 'the checkpoint is being written; try again', { 'retry-after': String(CHECKPOINT_RETRY_SECONDS) });
        }
        throw error;
      }
    }
    const candidate = resolve(webRoot, `.${path === '/' ? '/index.html' : path}`);
    if (!candidate.startsWith(webRoot + sep) || !existsSync(candidate) || !statSync(candidate).isFile()) throw new HttpError(404, 'not found');
    return { file: candidate, body: req.method === 'HEAD' ? null : await readFile(candidate) };
  }

  return (req, res) => {
    fileFor(req).then(
      ({ file, body }) => {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store', ...ISOLATION_HEADERS });
        res.end(body);
      },
      (error: unknown) => {
        const known = error instanceof HttpError ? error : new HttpError(500, 'internal error');
        if (!res.headersSent) res.writeHead(known.status, { 'content-type': 'text/plain', 'cache-control': 'no-store', ...ISOLATION_HEADERS, ...known.headers });
        res.end(known.message);
      },
    );
  };
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the web page, with a run\'s checkpoint, on this machine: classify images and watch training in a browser')
    .argument('[folder]', 'a run folder or a checkpoint folder to publish at ./checkpoint/')
    .option('--port <n>', 'port (0: any free one)', parseInteger('--port', { min: 0, max: 65535 }), 8080)
    .option('--host <address>', 'address to listen on (addresses other than loopback need --allow-remote)', '127.0.0.1')
    .option('--allow-remote', 'allow a --host that other machines can reach: they can then read the checkpoint')
    .option('--json', 'print {url, checkpoint} as JSON once listening')
    .action(async (folder: string | undefined, flags: { port: number; host: string; allowRemote?: boolean; json?: boolean }) => {
      const web = fileURLToPath(new URL('./web/', import.meta.url));
      if (!existsSync(join(web, 'index.html'))) throw new UsageError(`the web page is missing from ${web} (build the workspace first)`);
      if (!isLoopback(flags.host)) {
        if (!flags.allowRemote) {
          throw new UsageError(`--host ${flags.host} is reachable from other machines, which could then read the checkpoint; add --allow-remote to serve there anyway`);
        }
        process.stderr.write(`warning: serving on ${flags.host}: every machine that reaches this address can read the page and the checkpoint\n`);
      }
      const checkpoint = folder ? checkpointOf(folder) : null;
      const server = createServer(createRequestHandler({ web, folder: folder ?? null, host: flags.host }));
      // Bytes that are not HTTP get a 400 and a closed connection, not an exception.
      server.on('clientError', (_error, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
        else socket.destroy();
      });
      await new Promise<void>((done, fail) => {
        server.once('error', (error: NodeJS.ErrnoException) =>
          fail(new UsageError(error.code === 'EADDRINUSE' ? `port ${flags.port} is in use; choose another with --port (0 picks a free one)` : `--host ${flags.host}: ${error.message}`)),
        );
        server.listen(flags.port, flags.host, done);
      });
      const { port } = server.address() as AddressInfo;
      const url = `http://${flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${port}/`;
      if (flags.json) process.stdout.write(`${JSON.stringify({ url, checkpoint })}\n`);
      else process.stdout.write(`serving PyramidNet-TS at ${url}${checkpoint ? ` with the checkpoint ${checkpoint}` : ''}; Ctrl-C stops\n`);
      await new Promise<void>((done) => {
        const stop = () => server.close(() => done());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
