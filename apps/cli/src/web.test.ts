import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '@pyramid/datasets';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceStateDict } from './test-fixtures';

// The web page in a real browser (Debian's Chromium, driven by playwright-core), served by
// `pyramid serve` with a checkpoint, classifying the same images as `pyramid predict` in Node.
const CHROMIUM = '/usr/bin/chromium';
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const sharedImages = join(root, '..', 'shared', 'data', 'cifar10_test1000_u8_nhwc.bin');
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-web-'));
const screenshot = join(root, 'apps', 'web', 'screenshot.png');

let server: ChildProcess;
let url = '';
let browser: Browser;
const images: string[] = [];
let nodeTop: { label: string; probability: number }[][] = [];

function pyramid(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: scratch });
}

const available = existsSync(CHROMIUM) || Boolean(process.env.CI);

beforeAll(async () => {
  if (!available) return;
  writeFileSync(join(scratch, 'reference.safetensors'), referenceStateDict());
  const imported = pyramid('import', 'reference.safetensors', '--dataset', 'cifar10', '--depth', '20', '--alpha', '12', '--out', 'ckpt');
  expect(imported.status, imported.stderr).toBe(0);
  // Real CIFAR-10 test images where shared/ is at hand, else fixed patterns; lossless PNGs of
  // the model's size, so that the browser and Node see the same pixels.
  const real = existsSync(sharedImages) ? readFileSync(sharedImages) : null;
  for (let i = 0; i < 3; i++) {
    const data = real ? new Uint8Array(real.subarray(i * 307 * 3072, i * 307 * 3072 + 3072)) : Uint8Array.from({ length: 3072 }, (_, p) => (p * (i + 3) * 37) % 256);
    const file = join(scratch, `image${i}.png`);
    writeFileSync(file, encodePng({ data, width: 32, height: 32, channels: 3 }));
    images.push(file);
  }
  const predicted = pyramid('predict', '--checkpoint', 'ckpt', ...images, '--json');
  expect(predicted.status, predicted.stderr).toBe(0);
  nodeTop = JSON.parse(predicted.stdout).predictions.map((p: { top: { label: string; probability: number }[] }) => p.top);
  server = spawn(process.execPath, [bin, 'serve', 'ckpt', '--port', '0', '--json'], { cwd: scratch });
  url = await new Promise<string>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(JSON.parse(String(d)).url));
    server.once('exit', (code) => reject(new Error(`pyramid serve exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

async function classifyAll(page: import('playwright-core').Page) {
  const tops: { label: string; probability: number }[][] = [];
  for (const image of images) {
    const before = Number((await page.getAttribute('body', 'data-classified')) ?? 0);
    await page.setInputFiles('#image-file', image);
    await page.waitForFunction((n) => Number(document.body.dataset.classified ?? 0) > n, before);
    tops.push(
      await page.$$eval('#top5 li', (items) => items.map((li) => ({ label: (li as HTMLElement).dataset.label!, probability: Number((li as HTMLElement).dataset.probability) }))),
    );
  }
  return tops;
}

describe.runIf(available)('the web page in Chromium', () => {
  it('loads the served checkpoint, shows its summary, and classifies images as Node does (CPU)', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=cpu&trainSteps=8`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    expect(await page.textContent('#summary')).toContain('parameters            84,765');
    expect(await page.textContent('#backend-status')).toMatch(/^Backend: CPU/);
    const tops = await classifyAll(page);
    tops.forEach((top, i) => {
      expect(top.map((t) => t.label)).toEqual(nodeTop[i].map((t) => t.label));
      top.forEach((t, k) => expect(t.probability).toBeCloseTo(nodeTop[i][k].probability, 4));
    });
    await page.click('#train-button');
    await page.waitForSelector('body[data-trained="true"]', { timeout: 120_000 });
    expect(await page.textContent('#train-status')).toMatch(/^step 8\/8: loss \d+\.\d+/);
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.close();
  });

  it('gives the same top-5 on WebGPU, or says plainly that it runs on the CPU', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=webgpu`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    const backendStatus = (await page.textContent('#backend-status'))!;
    const adapter = await page.evaluate(async () => Boolean(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()));
    // Where this Chromium offers an adapter (SwiftShader's, headless), the page must use it.
    if (adapter) expect(backendStatus).toMatch(/^Backend: WebGPU/);
    if (backendStatus.startsWith('Backend: WebGPU')) {
      const tops = await classifyAll(page);
      tops.forEach((top, i) => expect(top.map((t) => t.label)).toEqual(nodeTop[i].map((t) => t.label)));
      expect(await page.textContent('#inference-status')).toMatch(/^WebGPU: \d/);
    } else {
      expect(backendStatus).toMatch(/^Backend: CPU — WebGPU is not available here: /);
    }
    await page.close();
  });
});
