// The input pipeline's throughput, as training-ready batches per second, for the datasets the
// project reads: in-memory data with CIFAR augmentation, and image files decoded and augmented on
// the fly at ImageNet size (synthetic 500x375 JPEGs, the typical ImageNet photo). Prints a
// markdown table for packages/datasets/README.md. Images per CPU-second count every thread of the
// process (sharp decodes on libuv's threads even when the pipeline runs inline).
//
// PIPELINE_BASELINE=path/to/an/older/packages/datasets/dist/index.js times that build's ImageNet
// pipelines in the same run, for comparison (e.g. from a `git worktree` of an earlier commit).
// PIPELINE_ROUNDS=n times the ImageNet rows n times over in the same process: the first round
// includes compiling the hot loops, later ones show the steady state of a long run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Rng } from '@pyramid/core';
import {
  benchmarkPipeline,
  encodeJpeg,
  imagenetDataset,
  loadImageFolder,
  mnistSample,
} from '@pyramid/datasets';

const rows = [];
const threads = availableParallelism();
const baseline = process.env.PIPELINE_BASELINE ? await import(process.env.PIPELINE_BASELINE) : null;
const cpuSeconds = (since) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
};
const record = (what, result, cpu) => {
  const perCpu = cpu ? (result.images / cpu).toFixed(1) : '';
  rows.push(`| ${what} | ${result.threads} | ${result.imagesPerSecond.toFixed(result.imagesPerSecond < 100 ? 1 : 0)} | ${perCpu} |`);
  console.error(`${what}: ${result.imagesPerSecond.toFixed(1)} img/s on ${result.threads} thread(s)${cpu ? `, ${perCpu} per CPU-second` : ''}`);
};
const timed = async (run) => {
  const cpu = process.cpuUsage();
  const result = await run();
  return [result, cpuSeconds(cpu)];
};

const mnist = await mnistSample();
record('MNIST sample in memory, no augmentation, batch 128', await benchmarkPipeline(mnist, { batchSize: 128, batches: 60, augment: 'none', threads: 1 }));

const cifarTree = join(import.meta.dirname, '..', '..', 'shared', 'data', 'cifar10-jpeg.tar.gz');
const start = performance.now();
const decodeCpu = process.cpuUsage();
const cifar = await loadImageFolder(cifarTree, { prefix: 'train', threads });
const decodeSeconds = (performance.now() - start) / 1000;
rows.push(`| CIFAR-10 JPEG tree: reading and decoding 50,000 train images into memory | ${threads} | ${(50000 / decodeSeconds).toFixed(0)} | ${(50000 / cpuSeconds(decodeCpu)).toFixed(0)} |`);
record('CIFAR-10 in memory, pad-4 crop and flip, batch 128', await benchmarkPipeline(cifar, { batchSize: 128, batches: 100, augment: 'cifar', threads: 1 }));

const dir = mkdtempSync(join(tmpdir(), 'pyramid-pipeline-'));
try {
  const rng = Rng.fromSeed(1);
  for (const synset of ['n01', 'n02']) {
    mkdirSync(join(dir, 'train', synset), { recursive: true });
    for (let i = 0; i < 64; i++) {
      // Smooth gradients with noise: JPEG sizes close to real photos (about 100 KB).
      const w = 500, h = 375;
      const data = new Uint8Array(w * h * 3);
      for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = Math.min(255, ((p % w) + (p / w) * (c + 1)) % 256 + rng.int(40));
      writeFileSync(join(dir, 'train', synset, `${i}.jpg`), encodeJpeg({ data, width: w, height: h, channels: 3 }, 90));
    }
  }
  const shape = { height: 224, width: 224, channels: 3 };
  const normalization = { mean: [124, 116, 104], std: [58, 57, 57], scale: 1 };
  const imagenet = await imagenetDataset(dir, 'train', shape, normalization);
  const train = 'ImageNet-size JPEG files (500x375): decode, random-resized crop 224, flip, jitter, lighting, batch 32';
  const evaluation = 'ImageNet-size JPEG files (500x375): decode, resize 256, centre crop 224, batch 32';
  const rounds = Math.max(1, Number(process.env.PIPELINE_ROUNDS ?? 1));
  for (let round = 1; round <= rounds; round++) {
    const of = rounds > 1 ? `, round ${round} of ${rounds}` : '';
    if (baseline) {
      const old = await baseline.imagenetDataset(dir, 'train', shape, normalization);
      record(`${train} (baseline build${of})`, ...(await timed(() => baseline.benchmarkPipeline(old, { batchSize: 32, batches: 4, augment: 'imagenet', threads: 1 }))));
      record(`${evaluation} (baseline build${of})`, ...(await timed(() => baseline.benchmarkPipeline(old, { batchSize: 32, batches: 4, augment: 'none', threads: 1 }))));
    }
    const mark = of ? ` (${of.slice(2)})` : '';
    for (const t of [1, threads]) record(`${train}${mark}`, ...(await timed(() => benchmarkPipeline(imagenet, { batchSize: 32, batches: 4, augment: 'imagenet', threads: t }))));
    record(`${evaluation}${mark}`, ...(await timed(() => benchmarkPipeline(imagenet, { batchSize: 32, batches: 4, augment: 'none', threads: 1 }))));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}\n`);
console.log('| pipeline | threads | images/s | images per CPU-second |\n| --- | --- | --- | --- |');
console.log(rows.join('\n'));
