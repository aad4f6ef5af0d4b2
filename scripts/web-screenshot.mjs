// Takes the README's screenshot of the web page: `pyramid serve` with a run folder, Chromium
// classifying one of the page's sample images of the run's dataset and fine-tuning the run's
// checkpoint for 60 steps, ready to download.
// usage: node scripts/web-screenshot.mjs RUN_FOLDER [out.png] [sample number, from 1]   (needs /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [run, out = 'docs/web-page.png', sample = '8'] = process.argv.slice(2);
const server = spawn(process.execPath, ['apps/cli/dist/bin.js', 'serve', resolve(run), '--port', '0', '--json']);
const url = await new Promise((ok) => server.stdout.once('data', (d) => ok(JSON.parse(String(d)).url)));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${url}?backend=cpu`);
  await page.waitForSelector('body[data-ready="true"][data-checkpoint="loaded"][data-samples]');
  await page.click(`#samples button:nth-child(${Number(sample)})`);
  await page.waitForSelector('body[data-classified]');
  await page.click('#train-button');
  await page.waitForSelector('body[data-trained="true"]', { timeout: 300_000 });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.kill();
}
