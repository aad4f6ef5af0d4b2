import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** The checkpoint a folder names: itself, or a run folder's best (else last) checkpoint. */
export function checkpointOf(folder: string): string {
  for (const dir of [folder, join(folder, 'checkpoints', 'best'), join(folder, 'checkpoints', 'last')]) {
    if (existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors'))) return dir;
  }
  throw new UsageError(`${folder}: neither a checkpoint folder nor a run folder with checkpoints`);
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the web page, with a run\'s checkpoint, on this machine: classify images and watch training in a browser')
    .argument('[folder]', 'a run folder or a checkpoint folder to publish at ./checkpoint/')
    .option('--port <n>', 'port (0: any free one)', parseInteger('--port'), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--json', 'print {url, checkpoint} as JSON once listening')
    .action(async (folder: string | undefined, flags: { port: number; host: string; json?: boolean }) => {
      const web = fileURLToPath(new URL('./web/', import.meta.url));
      if (!existsSync(join(web, 'index.html'))) throw new UsageError(`the web page is missing from ${web} (build the workspace first)`);
      const checkpoint = folder ? checkpointOf(folder) : null;
      const server = createServer(async (req, res) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
        let file: string | null = null;
        if (path.startsWith('/checkpoint/')) {
          const name = path.slice('/checkpoint/'.length);
          if (checkpoint && (name === 'config.json' || name === 'model.safetensors')) file = join(checkpoint, name);
        } else {
          const candidate = resolve(web, `.${path === '/' ? '/index.html' : path}`);
          if (candidate.startsWith(resolve(web) + sep) && existsSync(candidate) && statSync(candidate).isFile()) file = candidate;
        }
        if (!file) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        const body = req.method === 'HEAD' ? null : await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(body);
      });
      await new Promise<void>((done, fail) => {
        server.once('error', (error: NodeJS.ErrnoException) =>
          fail(new UsageError(error.code === 'EADDRINUSE' ? `port ${flags.port} is in use; choose another with --port (0 picks a free one)` : error.message)),
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
