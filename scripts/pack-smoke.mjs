// The "npm install @pyramid/pyramidnet into other projects" promise, checked: every package is
// packed with `npm pack`, the tarballs are installed into a fresh project outside the workspace,
// and the project imports them (ESM and CommonJS) and runs the `pyramid` binary.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'pyramid-pack-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
mkdirSync(tarballs);
mkdirSync(project);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const check = (ok, what) => {
  if (!ok) {
    console.error(`pack smoke test FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok - ${what}`);
};

try {
  // Every published package (private ones, like the web page's sources, ship inside others).
  const published = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces.filter((w) => !JSON.parse(readFileSync(join(root, w, 'package.json'), 'utf8')).private);
  run('npm', ['pack', ...published.flatMap((w) => ['--workspace', w]), '--pack-destination', tarballs, '--silent'], root);
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
  check(files.length === published.length, `packed every published package (${files.length}): ${files.join(', ')}`);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-smoke', private: true, version: '1.0.0' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files.map((f) => join(tarballs, f))], project);

  // 1,772,706: the reference PyTorch implementation's parameter count for CIFAR-10 PyramidNet-110, alpha 48.
  const esm = `
    import { useBackend } from '@pyramid/core';
    import { PyramidNet, findPreset } from '@pyramid/pyramidnet';
    import * as tf from '@tensorflow/tfjs-core';
    const info = await useBackend('cpu');
    const model = new PyramidNet(findPreset('pyramidnet110-a48-cifar10').architecture);
    const logits = model.predict(tf.zeros([2, 32, 32, 3]));
    console.log(JSON.stringify({ params: model.parameterCount(), shape: logits.shape, kernels: info.kernels, detail: info.detail }));`;
  const fromEsm = JSON.parse(run('node', ['--input-type=module', '-e', esm], project));
  check(fromEsm.params === 1772706 && fromEsm.shape.join() === '2,10' && fromEsm.kernels === 'project', `import (ESM) builds the model and runs it on the project kernels: ${JSON.stringify(fromEsm)}`);
  // On Linux x86-64 the platform package comes along through @pyramid/core's optionalDependencies.
  const nativeHere = process.platform === 'linux' && process.arch === 'x64';
  if (nativeHere) {
    check(/native kernels \(convolution: oneDNN/.test(fromEsm.detail), `the native kernels are installed and used: ${fromEsm.detail}`);
  }

  const cjs = `
    const { PyramidNet, findPreset, summarize } = require('@pyramid/pyramidnet');
    const { useBackend } = require('@pyramid/core');
    useBackend('cpu', { kernels: 'stock' }).then(() => {
      const model = new PyramidNet(findPreset('pyramidnet272-a200-bottleneck-cifar10').architecture);
      console.log(JSON.stringify({ params: summarize(model).params }));
    });`;
  const fromCjs = JSON.parse(run('node', ['-e', cjs], project));
  check(fromCjs.params === 26210842, `require (CommonJS) builds PyramidNet-272: ${JSON.stringify(fromCjs)}`);

  // The Node entries, both ways: one copy of the model code, so a loaded model is the main entry's PyramidNet.
  const nodeEntries = `
    import { PyramidNet } from '@pyramid/pyramidnet';
    import { loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
    import { train } from '@pyramid/train/node';
    import { writeFileAtomically } from '@pyramid/core/node';
    import { useBackend } from '@pyramid/core';
    await useBackend('cpu', { kernels: 'stock' });
    await saveCheckpoint('ckpt', new PyramidNet({ layout: 'cifar', depth: 8, alpha: 4, classes: 3 }));
    const { model } = await loadCheckpoint('ckpt');
    console.log(JSON.stringify({ same: model instanceof PyramidNet, train: typeof train, write: typeof writeFileAtomically }));`;
  const fromNodeEntries = JSON.parse(run('node', ['--input-type=module', '-e', nodeEntries], project));
  check(fromNodeEntries.same && fromNodeEntries.train === 'function' && fromNodeEntries.write === 'function', `import of the Node entries: ${JSON.stringify(fromNodeEntries)}`);
  const nodeRequire = `
    const { train } = require('@pyramid/train/node');
    const { loadCheckpoint } = require('@pyramid/pyramidnet/node');
    const { writeFolderAtomically } = require('@pyramid/core/node');
    console.log(JSON.stringify([typeof train, typeof loadCheckpoint, typeof writeFolderAtomically]));`;
  check(run('node', ['-e', nodeRequire], project).trim() === '["function","function","function"]', 'require (CommonJS) of the Node entries');

  // Images decode through sharp, installed with @pyramid/datasets, in its ESM and CommonJS builds.
  const decoding = `
    import { decodeImage, encodePng, imageDecoder } from '@pyramid/datasets';
    const image = await decodeImage(encodePng({ data: Uint8Array.from([10, 20, 30]), width: 1, height: 1, channels: 3 }), 'pixel.png');
    console.log(JSON.stringify({ decoder: await imageDecoder(), pixels: Array.from(image.data) }));`;
  const decoded = run('node', ['--input-type=module', '-e', decoding], project).trim();
  check(decoded === '{"decoder":"sharp","pixels":[10,20,30]}', `@pyramid/datasets decodes images through sharp: ${decoded}`);
  const decoderCjs = `require('@pyramid/datasets').imageDecoder().then((d) => console.log(d));`;
  check(run('node', ['-e', decoderCjs], project).trim() === 'sharp', 'require (CommonJS) of @pyramid/datasets decodes through sharp');

  const backends = JSON.parse(run(join(project, 'node_modules', '.bin', 'pyramid'), ['backends', '--json'], project));
  check(backends.some((b) => b.name === 'cpu' && b.available), 'the pyramid binary runs and lists the cpu backend');
  const info = JSON.parse(run(join(project, 'node_modules', '.bin', 'pyramid'), ['info', '--preset', 'pyramidnet110-a48-cifar10', '--json'], project));
  check(info.params === 1772706, 'pyramid info reports the preset');

  // The quick start after a plain install of the CLI: mnist and the plotting packages are optional
  // peer dependencies of the libraries, and the CLI's own dependencies. 500 of the digits, one epoch.
  const quickRun = join(project, 'runs', 'quick');
  const quick = run(join(project, 'node_modules', '.bin', 'pyramid'), ['train', '--preset', 'pyramidnet8-a16-mnist', '--data', 'mnist-sample', '--test-fraction', '0.95', '--epochs', '1', '--batch-size', '50', '--run', quickRun, '--json'], project);
  const done = quick.trim().split('\n').map((line) => JSON.parse(line)).find((event) => event.kind === 'done');
  const plots = ['loss', 'accuracy', 'error', 'lr'].flatMap((chart) => [`${chart}.svg`, `${chart}.png`]).filter((file) => existsSync(join(quickRun, 'plots', file)));
  check(done !== undefined && plots.length === 8, `the quick start trains on the MNIST sample and draws its plots after a plain install of the CLI (${plots.length} plot files)`);
  if (nativeHere) {
    // Without the binary the CPU backend still runs, on WebAssembly, and says why in one line.
    rmSync(join(project, 'node_modules', '@pyramid', 'cpu-linux-x64-gnu', 'dist', 'pyramid-cpu.node'));
    const fallback = JSON.parse(run('node', ['--input-type=module', '-e', esm], project));
    check(fallback.params === 1772706 && /WebAssembly SIMD kernels \(convolution/.test(fallback.detail), `without the binary, the model runs on the WebAssembly kernels: ${fallback.detail}`);
    const noticeScript = `import { useBackend } from '@pyramid/core'; const notices = []; await useBackend('cpu', {}, (n) => notices.push(n)); console.log(JSON.stringify(notices));`;
    const notices = JSON.parse(run('node', ['--input-type=module', '-e', noticeScript], project));
    check(notices.length === 1 && /^cpu: using WebAssembly kernels: package @pyramid\/cpu-linux-x64-gnu failed to load: /.test(notices[0]), `the fallback is said in one line: ${notices[0]}`);
    const listed = JSON.parse(run(join(project, 'node_modules', '.bin', 'pyramid'), ['backends', '--json'], project)).find((b) => b.name === 'cpu');
    check(listed.available && /WebAssembly kernels \(package @pyramid\/cpu-linux-x64-gnu failed to load: .*pyramid-cpu\.node/.test(listed.detail), `pyramid backends says why the native kernels are not used: ${listed.detail}`);
  }
  console.log('pack smoke test passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}
