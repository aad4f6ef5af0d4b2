import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATASETS, useBackend } from '@pyramid/core';
import { type ImageDataset, encodePng } from '@pyramid/datasets';
import { PyramidNet, type SafetensorsEntry, decodeCheckpoint, findPreset, readSafetensors, toFloat32, toIntegers } from '@pyramid/pyramidnet';
import { loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
import { RunStreams, createRunConfig, defaultRecipeFor } from '@pyramid/train';
import { train } from '@pyramid/train/node';
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

/** Records every text `#warmup-status` shows, from before the page's script runs. */
async function recordWarmup(page: import('playwright-core').Page) {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { warmupSeen: string[] }).warmupSeen = seen;
    new MutationObserver(() => {
      const text = document.getElementById('warmup-status')?.textContent;
      if (text && text !== seen.at(-1)) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { warmupSeen: string[] }).warmupSeen);
}

describe.runIf(available)('the web page in Chromium', () => {
  it('loads the served checkpoint, shows its summary, and classifies images as Node does (CPU)', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=cpu&trainSteps=8`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    expect(await page.textContent('#summary')).toContain('parameters            84,765');
    expect(await page.textContent('#backend-status')).toMatch(/^Backend: CPU/);
    // COOP and COEP from `pyramid serve` isolate the page: SharedArrayBuffer (threads) is open to it.
    expect(await page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer])).toEqual([true, 'function']);
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

  it("offers a dozen test images of the checkpoint's dataset, classifies a clicked one as `pyramid predict` does, and says when there are none", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=cpu`);
    await page.waitForSelector('body[data-ready="true"][data-samples="12"]', { timeout: 60_000 });
    expect(await page.textContent('#samples-status')).toBe('12 CIFAR-10 test images: click one to classify it.');
    // The served bytes: the first test image of each class, then the second airplane and automobile.
    const served = new Uint8Array(await (await fetch(`${url}samples/cifar10.bin`)).arrayBuffer());
    expect(served.length).toBe(12 * (1 + 3072));
    expect([...served.subarray(0, 12)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    if (existsSync(sharedImages)) {
      const all = readFileSync(sharedImages);
      // shared/data holds 100 images per class, in class order.
      [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1, 101].forEach((k, i) =>
        expect(Buffer.compare(served.subarray(12 + i * 3072, 12 + (i + 1) * 3072), all.subarray(k * 3072, (k + 1) * 3072)), `sample ${i}`).toBe(0),
      );
    }
    const files = [3, 8].map((i) => {
      const file = join(scratch, `sample${i}.png`);
      writeFileSync(file, encodePng({ data: served.slice(12 + i * 3072, 12 + (i + 1) * 3072), width: 32, height: 32, channels: 3 }));
      return file;
    });
    const predicted = pyramid('predict', '--checkpoint', 'ckpt', ...files, '--json');
    expect(predicted.status, predicted.stderr).toBe(0);
    const expected: { label: string; probability: number }[][] = JSON.parse(predicted.stdout).predictions.map((p: { top: unknown }) => p.top);
    for (const [k, i] of [3, 8].entries()) {
      const before = Number((await page.getAttribute('body', 'data-classified')) ?? 0);
      await page.click(`#samples button:nth-child(${i + 1})`);
      await page.waitForFunction((n) => Number(document.body.dataset.classified ?? 0) > n, before);
      const top = await page.$$eval('#top5 li', (items) => items.map((li) => ({ label: (li as HTMLElement).dataset.label!, probability: Number((li as HTMLElement).dataset.probability) })));
      expect(top.map((t) => t.label)).toEqual(expected[k].map((t) => t.label));
      top.forEach((t, j) => expect(t.probability).toBeCloseTo(expected[k][j].probability, 4));
      expect(await page.textContent('#inference-status')).toContain(`the image is of class ${['cat', 'ship'][k]}`);
    }
    // The same weights under an image folder's class names: no dataset, so no samples.
    const config = JSON.parse(readFileSync(join(scratch, 'ckpt', 'config.json'), 'utf8'));
    config.input.classNames = config.input.classNames.map((name: string) => `my-${name}`);
    mkdirSync(join(scratch, 'folder-ckpt'), { recursive: true });
    writeFileSync(join(scratch, 'folder-ckpt', 'config.json'), JSON.stringify(config));
    await page.setInputFiles('#checkpoint-files', [join(scratch, 'folder-ckpt', 'config.json'), join(scratch, 'ckpt', 'model.safetensors')]);
    await page.waitForFunction(() => !document.body.dataset.samples && document.querySelector('#samples-status')!.textContent!.startsWith('No sample images'));
    expect(await page.$$('#samples button')).toHaveLength(0);
    await page.close();
  });

  it('fits a phone: at 375 px wide nothing overflows horizontally, before and after classifying and fine-tuning', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await page.goto(`${url}?backend=cpu&trainSteps=2`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"][data-samples="12"]', { timeout: 60_000 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth);
    expect(await overflow()).toBeLessThanOrEqual(375);
    await page.click('#samples button:nth-child(1)');
    await page.waitForSelector('body[data-classified="1"]');
    expect(await page.$$('#top5 li')).toHaveLength(5);
    expect(await overflow()).toBeLessThanOrEqual(375);
    await page.click('#train-button');
    await page.waitForSelector('body[data-trained="true"]', { timeout: 120_000 });
    expect(await page.isVisible('#download')).toBe(true);
    expect(await overflow()).toBeLessThanOrEqual(375);
    await page.close();
  });

  it("fine-tunes the loaded checkpoint with the trainer's own step, as train() from the same weights does in Node, and offers the result for download", async () => {
    // One epoch of the 600 digits in batches of 64 (MNIST's default recipe), so that train() in
    // Node takes the same steps under the same schedule.
    const steps = 9;
    const seed = 4;
    // Batch norm's sums are split by thread: the page and Node train on the same count, two, so
    // that the page's Web Worker pool is checked against Node's worker_threads one.
    const threads = 2;
    const preset = findPreset('pyramidnet8-a16-mnist');
    await useBackend('cpu', { threads, native: false });
    const loadedDir = join(scratch, 'mnist-ckpt');
    await saveCheckpoint(loadedDir, new PyramidNet(preset.architecture, { rng: new RunStreams(99).fork('init') }), { preset: preset.name });
    const page = await browser.newPage();
    await page.goto(`${url}?backend=cpu&threads=${threads}&trainSteps=${steps}&trainSeed=${seed}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-threads')).toBe(String(threads));
    await page.setInputFiles('#checkpoint-files', [join(loadedDir, 'config.json'), join(loadedDir, 'model.safetensors')]);
    await page.waitForSelector('body[data-samples="12"]', { timeout: 60_000 });
    expect(await page.textContent('#samples-status')).toBe('12 MNIST test images: click one to classify it.');
    expect(await page.textContent('#train-about')).toMatch(/^The loaded checkpoint learns 600 real MNIST digits in the browser/);
    await page.click('#train-button');
    await page.waitForSelector('body[data-trained="true"]', { timeout: 120_000 });
    const pageLosses: number[] = JSON.parse((await page.getAttribute('body', 'data-train-losses'))!);
    const tunedDir = join(scratch, 'tuned');
    mkdirSync(tunedDir);
    for (const [link, name] of [['#download-config', 'config.json'], ['#download-weights', 'model.safetensors']]) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(link)]);
      expect(download.suggestedFilename()).toBe(name);
      await download.saveAs(join(tunedDir, name));
    }
    await page.close();

    // The same digits as the page fetched them, trained by the library's train() in this process
    // from the same checkpoint on the same kernels (the CPU backend's WebAssembly ones, on as many
    // threads as the page's), with MNIST's default recipe and the checkpoint's normalisation.
    const loaded = await loadCheckpoint(loadedDir);
    const { shape, classNames } = DATASETS.mnist;
    const bytes = new Uint8Array(await (await fetch(`${url}sample-digits.bin`)).arrayBuffer());
    const count = bytes.length / (1 + shape.height * shape.width * shape.channels);
    const digits: ImageDataset = {
      name: 'sample-digits',
      shape,
      classNames: classNames!,
      images: bytes.subarray(count),
      labels: Int32Array.from(bytes.subarray(0, count)),
      normalization: loaded.config.input.normalization,
    };
    const { name: recipeName, recipe } = defaultRecipeFor('mnist');
    expect(count / recipe.batchSize).toBeGreaterThanOrEqual(steps);
    recipe.epochs = 1;
    const config = createRunConfig({
      preset: preset.name,
      architecture: preset.architecture,
      data: { name: digits.name, source: 'web', options: {}, trainImages: count, testImages: 0, classNames: digits.classNames, normalization: digits.normalization },
      recipeName,
      recipe,
      seed,
    });
    const nodeLosses: number[] = [];
    const result = await train({
      runDir: join(scratch, 'web-digits'),
      config,
      resume: false,
      train: digits,
      plots: false,
      init: { model: loaded.model, source: loadedDir },
      onEvent: (e) => e.kind === 'step' && nodeLosses.push(e.loss),
    });
    expect(nodeLosses).toHaveLength(steps);
    expect(pageLosses).toHaveLength(steps);
    // Here they agree bit for bit; the margin allows another browser's rounding of exp and log.
    pageLosses.forEach((loss, i) => expect(Math.abs(loss - nodeLosses[i])).toBeLessThanOrEqual(1e-6 * Math.abs(nodeLosses[i])));

    // The download is a checkpoint: it decodes, keeps the loaded one's input description, holds
    // weights other than the loaded ones and those train() reached, and the CLI predicts with it.
    const weightsOf = (dir: string) => readSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors;
    // Batch norms' num_batches_tracked are integers.
    const values = (entry: SafetensorsEntry) => (entry.dtype.startsWith('F') ? [...toFloat32(entry)] : toIntegers(entry));
    const tunedConfig = readFileSync(join(tunedDir, 'config.json'), 'utf8');
    const decoded = decodeCheckpoint(tunedConfig, readFileSync(join(tunedDir, 'model.safetensors')), tunedDir);
    decoded.model.dispose();
    expect(decoded.config.input).toEqual(loaded.config.input);
    expect(decoded.config.preset).toBe(preset.name);
    const tuned = weightsOf(tunedDir);
    const before = weightsOf(loadedDir);
    const reached = weightsOf(result.lastCheckpoint);
    expect([...tuned.keys()].sort()).toEqual([...before.keys()].sort());
    let moved = 0;
    for (const [name, entry] of tuned) {
      const start = values(before.get(name)!);
      const node = values(reached.get(name)!);
      if (values(entry).some((v, i) => v !== start[i])) moved++;
      values(entry).forEach((v, i) => expect(Math.abs(v - node[i]), name).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(node[i]))));
    }
    expect(moved).toBeGreaterThan(tuned.size / 2);
    const digit = join(scratch, 'digit.png');
    writeFileSync(digit, encodePng({ data: bytes.slice(count, count + 784), width: 28, height: 28, channels: 1 }));
    const predicted = pyramid('predict', '--checkpoint', tunedDir, digit, '--json');
    expect(predicted.status, predicted.stderr).toBe(0);
    loaded.model.dispose();
    result.model.dispose();
  });

  it('runs the CPU kernels on several threads in the model worker when isolated, with the predictions of one thread and of Node', async () => {
    /** The page's probabilities for the test images, on `threads` threads (as the page reports them). */
    async function probabilitiesOn(threads: number | null) {
      const page = await browser.newPage();
      await page.goto(`${url}?backend=cpu${threads === null ? '' : `&threads=${threads}`}`);
      await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
      const reported = { threads: Number(await page.getAttribute('body', 'data-threads')), status: (await page.textContent('#backend-status'))!, cores: await page.evaluate(() => navigator.hardwareConcurrency) };
      // The model lives in a worker, its kernel pool in workers of that worker (from a Blob URL);
      // the page's own thread only draws.
      const urls = page.workers().map((w) => w.url());
      const workers = { model: urls.filter((u) => /\/assets\/model-worker-[\w-]+\.js$/.test(u)).length, kernels: urls.filter((u) => u.startsWith('blob:')).length };
      const tops = await classifyAll(page);
      await page.close();
      return { ...reported, workers, tops };
    }
    const several = await probabilitiesOn(3);
    expect(several.threads).toBe(3);
    expect(several.status).toMatch(/^Backend: CPU, 3 threads — tfjs-backend-cpu \+ WebAssembly SIMD kernels .* on 3 threads$/);
    expect(several.workers).toEqual({ model: 1, kernels: 2 });
    const one = await probabilitiesOn(1);
    expect(one.status).toMatch(/^Backend: CPU, 1 thread — .* on 1 thread$/);
    expect(one.workers).toEqual({ model: 1, kernels: 0 });
    // Inference splits the convolutions' output rows among threads, never a sum: the same bits.
    expect(several.tops).toEqual(one.tops);
    several.tops.forEach((top, i) => {
      expect(top.map((t) => t.label)).toEqual(nodeTop[i].map((t) => t.label));
      top.forEach((t, k) => expect(t.probability).toBeCloseTo(nodeTop[i][k].probability, 4));
    });
    // Without ?threads=, as many as the browser has cores.
    const byDefault = await probabilitiesOn(null);
    expect(byDefault.threads).toBe(byDefault.cores);
  });

  it('classifies a clicked image while the model worker fine-tunes, without waiting for the training to end', async () => {
    const page = await browser.newPage();
    const steps = 1000;
    await page.goto(`${url}?backend=cpu&trainSteps=${steps}`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"][data-samples="12"]', { timeout: 60_000 });
    await page.click('#train-button');
    await page.waitForFunction(() => /^step [2-9]\d*\//.test(document.getElementById('train-status')!.textContent!), undefined, { timeout: 60_000 });
    const before = Number((await page.getAttribute('body', 'data-classified')) ?? 0);
    await page.click('#samples button:nth-child(4)');
    await page.waitForFunction((n) => Number(document.body.dataset.classified ?? 0) > n, before, { timeout: 60_000 });
    // Answered between two training steps, long before the last.
    expect(await page.getAttribute('body', 'data-trained')).toBeNull();
    const step = Number(/^step (\d+)\//.exec((await page.textContent('#train-status'))!)![1]);
    expect(step).toBeLessThan(steps);
    expect(await page.textContent('#inference-status')).toContain('the image is of class cat');
    await page.close();
  });

  it('without cross-origin isolation runs the CPU kernels on one thread and says why', async () => {
    const page = await browser.newPage();
    // The page as a static host without COOP/COEP would serve it.
    await page.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = Object.fromEntries(Object.entries(response.headers()).filter(([name]) => !name.startsWith('cross-origin-')));
      await route.fulfill({ response, headers });
    });
    await page.goto(`${url}?backend=cpu&threads=3`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await page.getAttribute('body', 'data-threads')).toBe('1');
    expect(page.workers().filter((w) => w.url().startsWith('blob:'))).toHaveLength(0);
    expect(await page.textContent('#backend-status')).toMatch(
      /^Backend: CPU, 1 thread — .* on 1 thread \(cpu: one thread instead of 3: the page is not cross-origin isolated \(its server sends no Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp\), so it cannot share memory with workers\)$/,
    );
    const tops = await classifyAll(page);
    tops.forEach((top, i) => expect(top.map((t) => t.label)).toEqual(nodeTop[i].map((t) => t.label)));
    await page.close();
  });

  it('gives the same top-5 on WebGPU, or says plainly that it runs on the CPU', async () => {
    const page = await browser.newPage();
    const warmupSeen = await recordWarmup(page);
    await page.goto(`${url}?backend=webgpu`);
    await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    const backendStatus = (await page.textContent('#backend-status'))!;
    // While the first inference compiles the kernels, the page says so; then how long it took.
    const backend = backendStatus.startsWith('Backend: WebGPU') ? 'WebGPU' : 'CPU';
    const seen = await warmupSeen();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(`compiling kernels for ${backend}…`);
    expect(seen[1]).toMatch(new RegExp(`^${backend} kernels compiled in \\d+\\.\\d s \\(the first inference\\); ready$`));
    const adapter = await page.evaluate(async () => Boolean(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()));
    // Where this Chromium offers an adapter (SwiftShader's, headless), the page must use it.
    if (adapter) expect(backendStatus).toMatch(/^Backend: WebGPU/);
    if (backendStatus.startsWith('Backend: WebGPU')) {
      const tops = await classifyAll(page);
      tops.forEach((top, i) => expect(top.map((t) => t.label)).toEqual(nodeTop[i].map((t) => t.label)));
      expect(await page.textContent('#inference-status')).toMatch(/^WebGPU: \d/);
    } else {
      expect(backendStatus).toMatch(/^Backend: CPU, \d+ threads? — this browser has (no WebGPU|WebGPU but offers no GPU to this page)/);
    }
    await page.close();
  });

  it("tells a browser's user without WebGPU, or without an adapter, that the page runs on the CPU, with a browser hint", async () => {
    const noGpu = await browser.newPage();
    await noGpu.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await noGpu.goto(`${url}?backend=webgpu`);
    await noGpu.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    const threads = Number(await noGpu.getAttribute('body', 'data-threads'));
    expect(await noGpu.textContent('#backend-status')).toBe(
      `Backend: CPU, ${threads} thread${threads === 1 ? '' : 's'} — this browser has no WebGPU, so the page runs on the CPU backend (WebAssembly) instead. For WebGPU, use a current Chrome or Edge, or turn WebGPU on in your browser's settings.`,
    );
    await noGpu.close();
    const noAdapter = await browser.newPage();
    await noAdapter.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => ({ requestAdapter: async () => null }), configurable: true }));
    await noAdapter.goto(`${url}?backend=auto`);
    await noAdapter.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]', { timeout: 60_000 });
    const text = (await noAdapter.textContent('#backend-status'))!;
    expect(text).toMatch(/^Backend: CPU, \d+ threads? — this browser has WebGPU but offers no GPU to this page .*, so the page runs on the CPU backend \(WebAssembly\) instead\./);
    expect(text).not.toMatch(/apt-get|mesa/);
    expect(await noAdapter.getAttribute('body', 'data-backend')).toBe('cpu');
    await noAdapter.close();
  });
});
