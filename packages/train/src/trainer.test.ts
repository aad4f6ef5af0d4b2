import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@pyramid/core';
import { DecodePool, type ImageDataset, encodePng } from '@pyramid/datasets';
import { PyramidNet, architectureConfig, resolveArchitecture } from '@pyramid/pyramidnet';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RECIPES } from './recipes';
import { RUN_FORMAT, type RunConfig } from './run-config';
import { lockRunFolder } from './run-lock';
import { NonFiniteLossError, type TrainEvent, train } from './trainer';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-train-'));

/** 96 random 8x8 grey images in 4 classes, each class brighter than the last (learnable). */
function toyData(n = 96): ImageDataset {
  const rng = Rng.fromSeed(5);
  const images = new Uint8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 4;
    for (let p = 0; p < 64; p++) images[i * 64 + p] = Math.min(255, labels[i] * 60 + rng.int(60));
  }
  return { name: 'toy', shape: { height: 8, width: 8, channels: 1 }, classNames: ['a', 'b', 'c', 'd'], images, labels, normalization: { mean: [100], std: [60], scale: 1 } };
}

function config(overrides: Partial<RunConfig['recipe']> = {}): RunConfig {
  const data = toyData();
  return {
    format: RUN_FORMAT,
    version: 1,
    preset: null,
    architecture: architectureConfig(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 4, classes: 4, input: { height: 8, width: 8, channels: 1 }, shakeDrop: { lastKeep: 0.5 } })),
    data: { name: 'toy', source: 'toy', options: {}, trainImages: data.labels.length, testImages: 32, classNames: data.classNames, normalization: data.normalization },
    recipeName: 'quick',
    recipe: { ...RECIPES.quick, epochs: 2, batchSize: 16, augment: 'cifar', ...overrides },
    seed: 3,
    evalEvery: 1,
    checkpointEvery: 0,
  };
}

/** An ImageNet-style folder of 16 small PNGs in two classes: 6 + 6 for training, 2 + 2 for validation. */
function imageFolder(name: string): string {
  const root = join(scratch, name);
  const r = Rng.fromSeed(1);
  for (const [i, synset] of ['n01', 'n02'].entries()) {
    mkdirSync(join(root, 'train', synset), { recursive: true });
    mkdirSync(join(root, 'val', synset), { recursive: true });
    for (let k = 0; k < 8; k++) {
      const h = 12 + (k % 3);
      const data = Uint8Array.from({ length: h * 14 * 3 }, () => Math.min(255, 60 + 120 * i + r.int(50)));
      writeFileSync(join(root, k < 6 ? 'train' : 'val', synset, `${k}.png`), encodePng({ data, width: 14, height: h, channels: 3 }));
    }
  }
  return root;
}

function weightsOf(dir: string): Buffer {
  return readFileSync(join(dir, 'checkpoints', 'last', 'model.safetensors'));
}

beforeAll(async () => {
  await useBackend('cpu', { threads: 2 });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('train', () => {
  it('keeps the tensor count flat from step to step', async () => {
    const counts: number[] = [];
    await train({
      runDir: join(scratch, 'memory'),
      config: config({ epochs: 1 }),
      resume: false,
      train: toyData(),
      onEvent: (e) => e.kind === 'step' && counts.push(tf.memory().numTensors),
    });
    expect(counts.length).toBe(6);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });

  it('reports an epoch with the learning rate of its last step', async () => {
    const rates: number[] = [];
    await train({
      runDir: join(scratch, 'epoch-rate'),
      config: config({ epochs: 2 }),
      resume: false,
      train: toyData(),
      onEvent: (e) => e.kind === 'epoch' && rates.push(e.lr),
    });
    // Cosine from 0.1 over 2 epochs of 6 steps, by hand: the last step of epoch 1 runs at t = 5/6,
    // lr = 0.05 (1 + cos(pi 5/12)) = 0.0629410; of epoch 2 at t = 11/6, 0.05 (1 + cos(pi 11/12)).
    expect(rates[0]).toBeCloseTo(0.062941, 6);
    expect(rates[1]).toBeCloseTo(0.05 * (1 - 0.9659258), 6);
  });

  it('resumed after an interruption mid-epoch, reaches the same weights bit for bit', async () => {
    const data = toyData();
    const test = toyData(32);
    await train({ runDir: join(scratch, 'straight'), config: config(), resume: false, train: data, test });
    const controller = new AbortController();
    const stopped = await train({
      runDir: join(scratch, 'interrupted'),
      config: config(),
      resume: false,
      train: data,
      test,
      signal: controller.signal,
      onEvent: (e: TrainEvent) => e.kind === 'step' && e.step === 8 && controller.abort(),
    });
    expect([stopped.status, stopped.state.step, stopped.state.stepInEpoch]).toEqual(['stopped', 8, 2]);
    const resumed = await train({ runDir: join(scratch, 'interrupted'), resume: true, train: data, test });
    expect(resumed.status).toBe('finished');
    expect(weightsOf(join(scratch, 'interrupted')).equals(weightsOf(join(scratch, 'straight')))).toBe(true);
    const steps = (dir: string) => readFileSync(join(scratch, dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === 'step').map((r) => [r.step, r.loss]);
    expect(steps('interrupted')).toEqual(steps('straight'));
  });

  it('with Cutout and CutMix, trains differently and still resumes bit for bit', async () => {
    const data = toyData();
    const mixed = config({ cutout: 4, cutmix: 1 });
    await train({ runDir: join(scratch, 'mixed-straight'), config: mixed, resume: false, train: data });
    const controller = new AbortController();
    await train({
      runDir: join(scratch, 'mixed-interrupted'),
      config: mixed,
      resume: false,
      train: data,
      signal: controller.signal,
      onEvent: (e: TrainEvent) => e.kind === 'step' && e.step === 5 && controller.abort(),
    });
    await train({ runDir: join(scratch, 'mixed-interrupted'), resume: true, train: data });
    expect(weightsOf(join(scratch, 'mixed-interrupted')).equals(weightsOf(join(scratch, 'mixed-straight')))).toBe(true);
    expect(weightsOf(join(scratch, 'mixed-straight')).equals(weightsOf(join(scratch, 'straight')))).toBe(false);
    await expect(train({ runDir: join(scratch, 'both'), config: config({ mixup: 1, cutmix: 0.5 }), resume: false, train: data })).rejects.toThrow("recipe.mixup and recipe.cutmix both mix the batch: give one");
    expect(existsSync(join(scratch, 'both'))).toBe(false);
  });

  it('stops on a non-finite loss, naming the step', async () => {
    await expect(train({ runDir: join(scratch, 'nan'), config: config({ lr: 1e30 }), resume: false, train: toyData() })).rejects.toThrow(/loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch 1\)/);
  });

  it('refuses a run folder that already holds files, and leaves them alone', async () => {
    const dir = join(scratch, 'taken');
    await train({ runDir: dir, config: config({ epochs: 1 }), resume: false, train: toyData() });
    const before = readFileSync(join(dir, 'run.json'));
    await expect(train({ runDir: dir, config: config({ epochs: 3 }), resume: false, train: toyData() })).rejects.toThrow(`${dir} already holds files; continue it with --resume ${dir}, or choose another --run`);
    expect(readFileSync(join(dir, 'run.json')).equals(before)).toBe(true);
    writeFileSync(join(scratch, 'stray.txt'), 'x');
  });

  it('refuses a configuration that does not describe the data, before creating the run folder', async () => {
    const dir = join(scratch, 'miscounted');
    await expect(train({ runDir: dir, config: config(), resume: false, train: toyData(80) })).rejects.toThrow('data.trainImages is 96 but toy has 80 images');
    await expect(train({ runDir: dir, config: config(), resume: false, train: toyData(), test: toyData(16) })).rejects.toThrow('data.testImages is 32 but toy has 16 images');
    await expect(train({ runDir: dir, config: { ...config(), seed: -1 }, resume: false, train: toyData() })).rejects.toThrow('seed must be a non-negative integer, got -1');
    await expect(train({ runDir: dir, config: config({ batchSize: 0 }), resume: false, train: toyData() })).rejects.toThrow('recipe.batchSize must be a positive integer, got 0');
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses to resume on data of another size', async () => {
    const dir = join(scratch, 'taken');
    await expect(train({ runDir: dir, resume: true, train: toyData(64) })).rejects.toThrow(/was trained on toy \(96 images\), not on these 64 images/);
  });
});

describe('train on image files', () => {
  it('closes its decoding threads when the loss stops being finite', async () => {
    const { imagenetDataset } = await import('@pyramid/datasets');
    const root = imageFolder('nan-images');
    const shape = { height: 8, width: 8, channels: 3 };
    const norm = { mean: [128, 128, 128], std: [64, 64, 64], scale: 1 as const };
    const trainSet = await imagenetDataset(root, 'train', shape, norm);
    // Watch the pool train() makes: each of its worker threads must have exited when train() throws.
    let exited = 0;
    let threads = 0;
    const create = DecodePool.create.bind(DecodePool);
    const spy = vi.spyOn(DecodePool, 'create').mockImplementation(async (n) => {
      const pool = await create(n);
      const workers = (pool as unknown as { workers: { once(event: 'exit', f: () => void): void }[] }).workers;
      threads = workers.length;
      for (const w of workers) w.once('exit', () => exited++);
      return pool;
    });
    try {
      const cfg = {
        ...config({ lr: 1e30 }),
        architecture: architectureConfig(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 4, classes: 2, input: shape })),
        data: { name: 'files', source: root, options: {}, trainImages: 12, testImages: 4, classNames: trainSet.classNames, normalization: norm },
        recipe: { ...RECIPES.quick, lr: 1e30, epochs: 1, batchSize: 4, augment: 'imagenet' as const },
      };
      await expect(train({ runDir: join(scratch, 'nan-files'), config: cfg, resume: false, train: trainSet, decodeThreads: 2 })).rejects.toThrow(NonFiniteLossError);
    } finally {
      spy.mockRestore();
    }
    expect(threads).toBe(2);
    expect(exited).toBe(2);
  });

  it('streams ImageNet-style folders with ImageNet augmentation and resumes them exactly', async () => {
    const { imagenetDataset } = await import('@pyramid/datasets');
    const root = imageFolder('imagenet');
    const shape = { height: 8, width: 8, channels: 3 };
    const norm = { mean: [128, 128, 128], std: [64, 64, 64], scale: 1 as const };
    const trainSet = await imagenetDataset(root, 'train', shape, norm);
    const test = await imagenetDataset(root, 'val', shape, norm);
    const cfg = {
      ...config(),
      architecture: architectureConfig(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 4, classes: 2, input: shape })),
      data: { name: 'files', source: root, options: {}, trainImages: 12, testImages: 4, classNames: trainSet.classNames, normalization: norm },
      recipe: { ...RECIPES.quick, epochs: 2, batchSize: 4, augment: 'imagenet' as const },
    };
    await train({ runDir: join(scratch, 'files-straight'), config: cfg, resume: false, train: trainSet, test, decodeThreads: 1 });
    const controller = new AbortController();
    await train({ runDir: join(scratch, 'files-stopped'), config: cfg, resume: false, train: trainSet, test, decodeThreads: 1, signal: controller.signal, onEvent: (e) => e.kind === 'step' && e.step === 4 && controller.abort() });
    const done = await train({ runDir: join(scratch, 'files-stopped'), resume: true, train: trainSet, test, decodeThreads: 1 });
    expect(done.state.step).toBe(6);
    expect(weightsOf(join(scratch, 'files-stopped')).equals(weightsOf(join(scratch, 'files-straight')))).toBe(true);
  });
});

/** The epoch records of a run's metrics.jsonl, without their wall-clock seconds. */
function epochRecords(dir: string) {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'epoch')
    .map(({ seconds: _seconds, ...r }) => r);
}

function stateOf(dir: string, which: 'last' | 'best') {
  return JSON.parse(readFileSync(join(dir, 'checkpoints', which, 'state.json'), 'utf8'));
}

/** A process id that no process has: a child that has exited and been reaped. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('run folders that survive crashes', () => {
  // Small runs: 2 epochs of 3 steps of 16 images, evaluated on 16.
  const data = toyData(48);
  const test = toyData(16);
  const small = (overrides: Partial<RunConfig['recipe']> = {}): RunConfig => {
    const c = config(overrides);
    return { ...c, data: { ...c.data, trainImages: 48, testImages: 16 } };
  };
  let straight = '';

  beforeAll(async () => {
    straight = join(scratch, 'crash-straight');
    await train({ runDir: straight, config: small(), resume: false, train: data, test });
  }, 60_000);

  for (const phase of ['record', 'best', 'last', 'plots'] as const) {
    it(`stopped after the first epoch's ${phase} write, resumes to the uninterrupted run's checkpoints and records`, async () => {
      const dir = join(scratch, `crash-${phase}`);
      const crash = new Error(`crash after ${phase}`);
      await expect(
        train({
          runDir: dir,
          config: small(),
          resume: false,
          train: data,
          test,
          afterEpochWrite: (p, epoch) => {
            if (p === phase && epoch === 0) throw crash;
          },
        }),
      ).rejects.toBe(crash);
      expect(existsSync(join(dir, 'run.lock'))).toBe(false);
      const resumed = await train({ runDir: dir, resume: true, train: data, test });
      expect(resumed.status).toBe('finished');
      expect(weightsOf(dir).equals(weightsOf(straight))).toBe(true);
      const bestWeights = (d: string) => readFileSync(join(d, 'checkpoints', 'best', 'model.safetensors'));
      expect(bestWeights(dir).equals(bestWeights(straight))).toBe(true);
      // The state names the best epoch that checkpoints/best holds.
      expect(stateOf(dir, 'last').bestEpoch).toBe(stateOf(dir, 'best').epoch);
      expect(stateOf(dir, 'last')).toEqual(stateOf(straight, 'last'));
      expect(epochRecords(dir)).toEqual(epochRecords(straight));
    });
  }

  it('resumed mid-epoch, records the epoch loss and accuracy of the uninterrupted run', async () => {
    const dir = join(scratch, 'crash-mid-epoch');
    const controller = new AbortController();
    await train({ runDir: dir, config: small(), resume: false, train: data, test, signal: controller.signal, onEvent: (e) => e.kind === 'step' && e.step === 4 && controller.abort() });
    expect(stateOf(dir, 'last').stepInEpoch).toBe(1);
    await train({ runDir: dir, resume: true, train: data, test });
    const [, second] = epochRecords(dir);
    const [, expected] = epochRecords(straight);
    expect([second.trainLoss, second.trainAccuracy]).toEqual([expected.trainLoss, expected.trainAccuracy]);
  });

  it('stopped before its first checkpoint, starts over on --resume', async () => {
    const dir = join(scratch, 'crash-before-checkpoint');
    const crash = new Error('crash at step 2');
    await expect(
      train({ runDir: dir, config: small(), resume: false, train: data, test, onEvent: (e) => { if (e.kind === 'step' && e.step === 2) throw crash; } }),
    ).rejects.toBe(crash);
    expect(existsSync(join(dir, 'checkpoints', 'last'))).toBe(false);
    const resumed = await train({ runDir: dir, resume: true, train: data, test });
    expect(resumed.status).toBe('finished');
    expect(weightsOf(dir).equals(weightsOf(straight))).toBe(true);
    expect(epochRecords(dir)).toEqual(epochRecords(straight));
  });

  it('puts back a checkpoint whose replacement was cut short and removes unfinished writes', async () => {
    const dir = join(scratch, 'leftovers');
    await train({ runDir: dir, config: small({ epochs: 1 }), resume: false, train: data, test });
    const last = join(dir, 'checkpoints', 'last');
    const before = weightsOf(dir);
    // What a crash between writeFolderAtomically's two renames leaves, and one in the middle of writing.
    renameSync(last, `${last}.old-123-abc-def`);
    mkdirSync(`${last}.tmp-456-ghi-jkl`);
    writeFileSync(join(`${last}.tmp-456-ghi-jkl`, 'model.safetensors'), 'half');
    writeFileSync(join(dir, 'metrics.jsonl.tmp-789-mno-pqr'), 'half');
    writeFileSync(join(dir, 'notes.tmp-1'), 'the user\'s');
    const events: TrainEvent[] = [];
    await train({ runDir: dir, resume: true, train: data, test, onEvent: (e) => events.push(e) });
    expect(weightsOf(dir).equals(before)).toBe(true);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['best', 'last']);
    expect(readdirSync(dir).sort()).toEqual(['checkpoints', 'metrics.jsonl', 'notes.tmp-1', 'plots', 'run.json']);
    const recovered = events.find((e) => e.kind === 'recovered');
    expect(recovered && recovered.kind === 'recovered' && recovered.changes.length).toBe(3);
  });

  it('refuses a run folder another live process trains in, naming it, and takes over a dead one\'s lock', async () => {
    const dir = join(scratch, 'locked');
    await train({ runDir: dir, config: small({ epochs: 1 }), resume: false, train: data });
    const release = lockRunFolder(dir);
    try {
      await expect(train({ runDir: dir, resume: true, train: data })).rejects.toThrow(
        new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use: process ${process.pid} on ${hostname()} has trained in it since `),
      );
    } finally {
      release();
    }
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: deadPid(), host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
    await expect(train({ runDir: dir, resume: true, train: data })).resolves.toMatchObject({ status: 'finished' });
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
  });

  it('refuses to resume from a run.json of something else, and a --run that is a file, in one line', async () => {
    const dir = join(scratch, 'foreign');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ format: 'something-else', data: {} }));
    await expect(train({ runDir: dir, resume: true, train: data })).rejects.toThrow(`${join(dir, 'run.json')} is not a PyramidNet-TS run (format "something-else")`);
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...small(), recipe: undefined }));
    await expect(train({ runDir: dir, resume: true, train: data })).rejects.toThrow(`${join(dir, 'run.json')}: 'recipe': `);
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'mine');
    await expect(train({ runDir: file, config: small(), resume: false, train: data })).rejects.toThrow(`${file} is a file, not a folder; choose another --run`);
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });
});

describe('thread count of a run', () => {
  it('is recorded, and a resume with another count is refused with the count to use', async () => {
    const dir = join(scratch, 'threads');
    const data = toyData(48);
    const c = config({ epochs: 1 });
    const controller = new AbortController();
    await train({ runDir: dir, config: { ...c, data: { ...c.data, trainImages: 48, testImages: 0 } }, resume: false, train: data, signal: controller.signal, onEvent: (e) => e.kind === 'step' && controller.abort() });
    expect(JSON.parse(readFileSync(join(dir, 'checkpoints', 'last', 'state.json'), 'utf8')).threads).toBe(2);
    await useBackend('cpu', { threads: 1 });
    try {
      await expect(train({ runDir: dir, resume: true, train: data })).rejects.toThrow(
        `${dir} was trained with 2 CPU kernel threads and this process has 1: the kernels' sums, and so the weights, depend on the count; resume with --threads 2 (or PYRAMID_CPU_THREADS=2)`,
      );
    } finally {
      await useBackend('cpu', { threads: 2 });
    }
    await expect(train({ runDir: dir, resume: true, train: data })).resolves.toMatchObject({ status: 'finished' });
  });
});

describe('train from initial weights', () => {
  it('starts a new run from a model of another class count: body loaded (kept by freeze), head re-initialised, all reported', async () => {
    const source = new PyramidNet({ ...config().architecture, classes: 7 }, { seed: 11 });
    const events: TrainEvent[] = [];
    const runDir = join(scratch, 'fine-tune');
    const outcome = await train({
      runDir,
      config: config({ epochs: 1, freeze: 'body' }),
      resume: false,
      train: toyData(),
      init: { model: source, source: 'pretrained' },
      onEvent: (e) => events.push(e),
    });
    const start = events.find((e) => e.kind === 'start') as Extract<TrainEvent, { kind: 'start' }>;
    expect(start.init?.source).toBe('pretrained');
    expect(start.init?.reinitialised).toEqual(['fc.weight', 'fc.bias']);
    expect(start.init?.skipped).toEqual([]);
    const tensors = source.namedTensors();
    const counters = tensors.filter((t) => t.name.endsWith('.running_mean')).length;
    expect(start.init?.loaded.length).toBe(tensors.length - 2 + counters);
    // Frozen, the body's parameters are still the source's after a whole epoch; the head was trained.
    const final = new Map(outcome.model.namedTensors().map((t) => [t.name, Array.from(t.variable.dataSync())]));
    for (const { name, kind, variable } of tensors) {
      if (kind === 'parameter' && !name.startsWith('fc.')) expect(final.get(name), name).toEqual(Array.from(variable.dataSync()));
    }
    expect(final.get('fc.weight')!.length).toBe(source.fc.inFeatures * 4);
    const recorded = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(recorded.init).toEqual({ source: 'pretrained', reinitialised: ['fc.weight', 'fc.bias'], skipped: [] });
    await expect(train({ runDir, resume: true, train: toyData(), init: { model: source, source: 'pretrained' } })).rejects.toThrow(
      'a resumed run continues from its own checkpoint; initial weights are for new runs',
    );
  });
});

describe('extending a finished run', () => {
  it('continues to more epochs and reaches the weights of a run trained that long from the start (step schedule)', async () => {
    const recipe = { epochs: 2, schedule: { type: 'step' as const, milestones: [1], gamma: 0.1 } };
    const extendedDir = join(scratch, 'two-epochs-extended');
    await train({ runDir: extendedDir, config: config(recipe), resume: false, train: toyData(), plots: false });
    const events: TrainEvent[] = [];
    await train({ runDir: extendedDir, resume: true, epochs: 3, train: toyData(), plots: false, onEvent: (e) => events.push(e) });
    const start = events.find((e) => e.kind === 'start') as Extract<TrainEvent, { kind: 'start' }>;
    // After the milestone at epoch 1 the rate is 0.1 of the recipe's.
    expect(start.extended).toEqual({ from: 2, to: 3, lr: expect.closeTo(RECIPES.quick.lr * 0.1, 12) });
    expect(events.filter((e) => e.kind === 'epoch').map((e) => (e as { epoch: number }).epoch)).toEqual([2]);
    expect(JSON.parse(readFileSync(join(extendedDir, 'run.json'), 'utf8')).recipe.epochs).toBe(3);

    const straightDir = join(scratch, 'three-epochs-straight');
    await train({ runDir: straightDir, config: config({ ...recipe, epochs: 3 }), resume: false, train: toyData(), plots: false });
    expect(weightsOf(extendedDir).equals(weightsOf(straightDir))).toBe(true);
  });

  it('refuses an epoch count the run has already reached, changing nothing', async () => {
    const runDir = join(scratch, 'not-extended');
    await train({ runDir, config: config({ epochs: 1 }), resume: false, train: toyData(), plots: false });
    const before = readFileSync(join(runDir, 'run.json'), 'utf8');
    await expect(train({ runDir, resume: true, epochs: 0, train: toyData() })).rejects.toThrow(`${runDir} has trained 1 epoch already; epochs must be a whole number above that, got 0`);
    expect(readFileSync(join(runDir, 'run.json'), 'utf8')).toBe(before);
  });
});
