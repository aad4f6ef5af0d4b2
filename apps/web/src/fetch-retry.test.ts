import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchRetrying } from './fetch-retry';

// A real HTTP server that answers 503 (with Retry-After: 0) a set number of times per path, as
// `pyramid serve` does while a run replaces its checkpoint, then the file.
const unavailable = new Map<string, number>();
const server = createServer((req, res) => {
  const left = unavailable.get(req.url!) ?? 0;
  if (left > 0) {
    unavailable.set(req.url!, left - 1);
    res.writeHead(503, { 'retry-after': '0' }).end('being written');
    return;
  }
  res.writeHead(200).end(`content of ${req.url}`);
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('fetchRetrying', () => {
  it('asks again after a 503 until the file is there', async () => {
    unavailable.set('/config.json', 3);
    const response = await fetchRetrying(`${base}/config.json`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('content of /config.json');
    expect(unavailable.get('/config.json')).toBe(0);
  });

  it('gives up after the attempts allowed and returns the last answer', async () => {
    unavailable.set('/model.safetensors', 5);
    const response = await fetchRetrying(`${base}/model.safetensors`, {}, 2);
    expect(response.status).toBe(503);
    expect(unavailable.get('/model.safetensors')).toBe(3);
  });
});
