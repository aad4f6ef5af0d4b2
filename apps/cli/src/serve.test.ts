import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@pyramid/core';
import { PyramidNet } from '@pyramid/pyramidnet';
import { saveCheckpoint } from '@pyramid/pyramidnet/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAllowed, isLoopback } from './commands/serve';

// `pyramid serve` as users start it (the built CLI in a child process), asked by Node's own HTTP
// client, which sends request lines and Host headers as given, malformed ones included.
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-serve-'));
const run = join(scratch, 'run');
let server: ChildProcess;
let port = 0;

function get(path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await useBackend('cpu');
  mkdirSync(join(run, 'checkpoints'), { recursive: true });
  await saveCheckpoint(join(run, 'checkpoints', 'last'), new PyramidNet({ layout: 'cifar', depth: 8, alpha: 4, classes: 3, input: { height: 8, width: 8, channels: 3 } }));
  server = spawn(process.execPath, [bin, 'serve', run, '--port', '0', '--json'], { cwd: scratch });
  port = await new Promise<number>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(Number(new URL(JSON.parse(String(d)).url).port)));
    server.once('exit', (code) => reject(new Error(`pyramid serve exited with ${code}`)));
  });
});

afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe('pyramid serve', () => {
  it('answers a malformed URL escape with 400 and keeps serving', async () => {
    expect((await get('/%')).status).toBe(400);
    expect((await get('/%E0%A4%A')).status).toBe(400);
    expect(server.exitCode).toBeNull();
    expect((await get('/')).status).toBe(200);
  });

  it('answers 503 with Retry-After while the checkpoint folder is being replaced, then the checkpoint again', async () => {
    const last = join(run, 'checkpoints', 'last');
    // What writeFolderAtomically does to the folder between its two renames.
    renameSync(last, `${last}.old-test`);
    try {
      const missing = await get('/checkpoint/config.json');
      expect(missing.status).toBe(503);
      expect(missing.headers['retry-after']).toBe('1');
      expect((await get('/checkpoint/model.safetensors')).status).toBe(503);
    } finally {
      renameSync(`${last}.old-test`, last);
    }
    expect(server.exitCode).toBeNull();
    const config = await get('/checkpoint/config.json');
    expect(config.status).toBe(200);
    expect(JSON.parse(config.body).architecture.depth).toBe(8);
  });

  it('sends the cross-origin isolation headers (COOP same-origin, COEP require-corp) on the page, the checkpoint and errors', async () => {
    for (const path of ['/', '/checkpoint/config.json', '/no-such-file']) {
      const { headers } = await get(path);
      expect(headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(headers['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
  });

  it('refuses a Host header naming another site (DNS rebinding) and serves its own address and localhost', async () => {
    expect((await get('/', `attacker.example:${port}`)).status).toBe(403);
    expect((await get('/checkpoint/config.json', 'attacker.example')).status).toBe(403);
    expect((await get('/', `localhost:${port}`)).status).toBe(200);
    expect((await get('/', `127.0.0.1:${port}`)).status).toBe(200);
  });

  it('refuses a non-loopback --host without --allow-remote, and an impossible --port, in one line', () => {
    const remote = spawnSync(process.execPath, [bin, 'serve', '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8' });
    expect(remote.status).toBe(2);
    expect(remote.stderr).toBe('pyramid: error: --host 0.0.0.0 is reachable from other machines, which could then read the checkpoint; add --allow-remote to serve there anyway\n');
    const port = spawnSync(process.execPath, [bin, 'serve', '--port', '99999'], { encoding: 'utf8' });
    expect(port.status).toBe(2);
    expect(port.stderr).toBe("pyramid: error: --port must be an integer from 0 to 65535, got '99999'\n");
  });
});

describe('serve address rules', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.2', 'example.com']) expect(isLoopback(host), host).toBe(false);
  });

  it('answers IP literals, the bound name and localhost on loopback; not other names or a missing Host', () => {
    expect(hostAllowed('127.0.0.1:8080', '127.0.0.1')).toBe(true);
    expect(hostAllowed('[::1]:8080', '::1')).toBe(true);
    expect(hostAllowed('localhost:8080', '127.0.0.1')).toBe(true);
    expect(hostAllowed('box.lan:8080', 'box.lan')).toBe(true);
    expect(hostAllowed('localhost', '192.168.1.2')).toBe(false);
    expect(hostAllowed('rebind.attacker.example:8080', '127.0.0.1')).toBe(false);
    expect(hostAllowed(undefined, '127.0.0.1')).toBe(false);
  });
});
