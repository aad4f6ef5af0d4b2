// Takes the README's screenshot of the web page: `pyramid serve` with a run folder, Chromium
// classifying one MNIST digit and training the demo for 60 steps.
// usage: node scripts/web-screenshot.mjs RUN_FOLDER [out.png]   (needs /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { encodePng } from '@pyramid/datasets';
import { chromium } from 'playwright-core';

const [run, out = 'docs/web-page.png'] = process.argv.slice(2);
const require = createRequire(join(process.cwd(), 'apps', 'cli', 'package.json'));
const digits = JSON.parse(readFileSync(join(dirname(require.resolve('mnist/package.json')), 'src', 'digits', '7.json'), 'utf8')).data;
const image = join(mkdtempSync(join(tmpdir(), 'shot-')), 'seven.png');
const gray = Uint8Array.from(digits.slice(784 * 5, 784 * 6), (v) => Math.round(v * 255));
writeFileSync(image, encodePng({ data: gray, width: 28, height: 28, channels: 1 }));

const server = spawn(process.execPath, ['apps/cli/dist/bin.js', 'serve', resolve(run), '--port', '0', '--json']);
const url = await new Promise((ok) => server.stdout.once('data', (d) => ok(JSON.parse(String(d)).url)));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
await page.goto(`${url}?backend=cpu`);
await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"]');
await page.setInputFiles('#image-file', image);
await page.waitForSelector('body[data-classified]');
await page.click('#train-button');
await page.waitForSelector('body[data-trained="true"]', { timeout: 300_000 });
await page.screenshot({ path: out, fullPage: true });
await browser.close();
server.kill();
console.log(`wrote ${out}`);
