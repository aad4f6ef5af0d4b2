import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { relativeError, useBackend } from '@pyramid/core';
import { encodePng, writeNpy } from '@pyramid/datasets';
import { PyramidNet, readSafetensors, toFloat32, toIntegers } from '@pyramid/pyramidnet';
import { saveCheckpoint } from '@pyramid/pyramidnet/node';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceStateDict, tensorsOf, torchFixture } from './test-fixtures';

// The built CLI in plain Node child processes, as users run it: gradients, kernels and plugins
// must work there, not only under vitest's module loader.
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-cli-'));

function pyramid(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: scratch, env: { ...process.env, PYRAMID_CPU_THREADS: '2' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A new empty folder for one test, so that no test reads what another wrote. */
function folder(name: string): string {
  return mkdtempSync(join(scratch, `${name}-`));
}

const BRIGHTNESS = [['dark', 30], ['mid', 128], ['light', 225]] as const;

/**
 * An image folder with train/ and test/ splits of 3 classes of 8x8 PNGs (24 and 6 per class), each
 * class a different brightness with some noise, so that one epoch learns them.
 */
function brightnessFolder(): string {
  const root = folder('shapes');
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const noise = rng(9);
  for (const split of ['train', 'test']) {
    for (const [c, level] of BRIGHTNESS) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < (split === 'train' ? 24 : 6); i++) {
        const pixels = Uint8Array.from({ length: 64 * 3 }, () => Math.max(0, Math.min(255, level + Math.round((noise() - 0.5) * 40))));
        writeFileSync(join(root, split, c, `${i}.png`), encodePng({ data: pixels, width: 8, height: 8, channels: 3 }));
      }
    }
  }
  return root;
}

/** The flags of a 3-class model for the brightness folder's 8x8 images. */
const BRIGHTNESS_MODEL = ['--dataset', 'cifar10', '--depth', '8', '--alpha', '4', '--classes', '3', '--input', '8x8x3'];

describe('pyramid', () => {
  it('prints help and exits 0', () => {
    const r = pyramid('--help');
    expect(r.status).toBe(0);
    for (const command of ['train', 'eval', 'predict', 'info', 'import', 'export', 'backends', 'bench']) expect(r.stdout).toContain(command);
  });

  it("groups train's options by what they set", () => {
    const r = pyramid('train', '--help');
    expect(r.status).toBe(0);
    const headings = r.stdout.split('\n').filter((line) => /^[A-Z][a-z -]+:$/.test(line));
    expect(headings).toEqual(['Data:', 'Recipe:', 'Augmentation and regularisation:', 'Fine-tuning:', 'Run folder:', 'Output:', 'Model:', 'Backend:', 'Options:']);
    // Each flag in its group: the learning rate under the recipe, --init under fine-tuning.
    expect(r.stdout.indexOf('--lr <x>')).toBeGreaterThan(r.stdout.indexOf('Recipe:'));
    expect(r.stdout.indexOf('--lr <x>')).toBeLessThan(r.stdout.indexOf('Augmentation and regularisation:'));
    expect(r.stdout.indexOf('--init <source>')).toBeGreaterThan(r.stdout.indexOf('Fine-tuning:'));
  });

  it('rejects an unknown flag with one line and status 2', () => {
    const r = pyramid('info', '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe("error: unknown option '--bogus'");
  });

  it('explains an impossible model in one line, without a stack trace', () => {
    const r = pyramid('info', '--dataset', 'cifar10', '--depth', '21', '--alpha', '48');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('pyramid: error: depth 21 is impossible for a CIFAR PyramidNet with basic units: depth - 2 must be a positive multiple of 6\n');
  });

  it('lists backends with availability and reasons', () => {
    const r = pyramid('backends', '--json');
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; available: boolean; reason: string | null }[];
    expect(list.find((b) => b.name === 'cpu')?.available).toBe(true);
    for (const name of ['webgpu', 'cuda']) {
      const status = list.find((b) => b.name === name)!;
      expect(status.available || status.reason !== null).toBe(true);
    }
  });

  it('reports a preset with the reference parameter count', () => {
    // 1,772,706: the reference PyTorch implementation's count for CIFAR-10 PyramidNet-110, alpha 48.
    const r = pyramid('info', '--preset', 'pyramidnet110-a48-cifar10', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.params).toBe(1_772_706);
    expect(info.paper[0].top1Error).toBe('4.58±0.06');
  });

  it('trains compiled on the native CPU kernels, and op by op with --no-compile, to the same losses bit for bit', () => {
    const losses = (compile: boolean) => {
      const run = join(folder(compile ? 'compiled' : 'op-by-op'), 'run');
      const t = pyramid('train', '--preset', 'pyramidnet8-a16-mnist', '--data', 'mnist-sample', '--test-fraction', '0.9', '--epochs', '1', '--batch-size', '50', '--run', run, '--json', ...(compile ? [] : ['--no-compile']));
      expect(t.status, t.stderr).toBe(0);
      const events = t.stdout.trim().split('\n').map((l) => JSON.parse(l));
      return { stepMode: events.find((e) => e.kind === 'start').stepMode, losses: events.filter((e) => e.kind === 'step').map((e) => e.loss) };
    };
    const opByOp = losses(false);
    expect(opByOp.stepMode).toEqual({ compiled: false, reason: 'compiling was turned off' });
    const compiled = losses(true);
    const native = JSON.parse(pyramid('backends', '--json').stdout).find((b: { name: string }) => b.name === 'cpu').detail.includes('native kernels from');
    if (native || process.env.CI) expect(compiled.stepMode).toEqual({ compiled: true });
    expect(compiled.losses.length).toBe(19);
    expect(compiled.losses).toEqual(opByOp.losses);
  });

  it('trains, evaluates and predicts in plain Node, and leaves a checkpoint', () => {
    const run = join(folder('mnist'), 'run');
    const t = pyramid('train', '--preset', 'pyramidnet8-a16-mnist', '--data', 'mnist-sample', '--test-fraction', '0.9', '--epochs', '1', '--batch-size', '50', '--run', run, '--json');
    expect(t.status, t.stderr).toBe(0);
    const events = t.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const epoch = events.find((e) => e.kind === 'epoch');
    // 999 training images, 19 steps of 50: the loss must fall on real digits.
    const steps = events.filter((e) => e.kind === 'step');
    expect(steps.length).toBe(19);
    expect(steps[steps.length - 1].loss).toBeLessThan(steps[0].loss);
    expect(existsSync(join(run, 'checkpoints', 'best', 'model.safetensors'))).toBe(true);

    const e = pyramid('eval', '--checkpoint', join(run, 'checkpoints', 'best'), '--data', 'mnist-sample', '--json');
    expect(e.status, e.stderr).toBe(0);
    const evaluation = JSON.parse(e.stdout);
    // The 2000 test images of the default split: accuracy above chance (10%).
    expect(evaluation.images).toBe(2000);
    expect(evaluation.top1).toBeGreaterThan(0.2);
    expect(evaluation.top1Error).toBeCloseTo(100 * (1 - evaluation.top1), 9);
    expect(epoch.top1).toBeGreaterThan(0.2);

    const npy = join(run, '..', 'digits.npy');
    writeFileSync(npy, writeNpy({ dtype: 'uint8', shape: [2, 28, 28, 1], data: new Uint8Array(2 * 784).fill(0) }));
    const p = pyramid('predict', '--checkpoint', join(run, 'checkpoints', 'best'), npy, '--json', '--top', '3');
    expect(p.status, p.stderr).toBe(0);
    const prediction = JSON.parse(p.stdout);
    expect(prediction.predictions).toHaveLength(2);
    expect(prediction.predictions[0].top).toHaveLength(3);
    expect(prediction.predictions[0].logits).toHaveLength(10);
    const total = prediction.predictions[0].top.reduce((s: number, t: { probability: number }) => s + t.probability, 0);
    expect(total).toBeLessThanOrEqual(1.000001);
  });

  it('refuses to train into a folder that holds another run, changing nothing', () => {
    const run = folder('taken');
    writeFileSync(join(run, 'run.json'), '{"format": "another run"}\n');
    const r = pyramid('train', '--preset', 'pyramidnet8-a16-mnist', '--data', 'mnist-sample', '--run', run);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pyramid: error: ${run} already holds files; continue it with --resume ${run}, or choose another --run\n`);
    expect(readdirSync(run)).toEqual(['run.json']);
    expect(readFileSync(join(run, 'run.json'), 'utf8')).toBe('{"format": "another run"}\n');
  });

  it('trains on an image folder with train and test splits, and predicts on a PNG', () => {
    const root = brightnessFolder();
    const run = join(folder('shapes-run'), 'run');
    const t = pyramid('train', ...BRIGHTNESS_MODEL, '--data', root, '--epochs', '2', '--batch-size', '8', '--lr', '0.05', '--run', run, '--quiet');
    expect(t.status, t.stderr).toBe(0);
    // The folder's preprocessing goes with the checkpoint, for eval, predict and the web page.
    const config = JSON.parse(readFileSync(join(run, 'checkpoints', 'best', 'config.json'), 'utf8'));
    expect(config.input.preprocessing).toEqual({ kind: 'center-crop', resize: 8 });
    const e = pyramid('eval', '--checkpoint', join(run, 'checkpoints', 'best'), '--data', root, '--json');
    expect(e.status, e.stderr).toBe(0);
    const evaluation = JSON.parse(e.stdout);
    expect(evaluation.images).toBe(18);
    // Class folders in sorted order; three brightness levels 100 apart are learnt in two epochs.
    expect(evaluation.perClass.map((c: { name: string }) => c.name)).toEqual(['dark', 'light', 'mid']);
    expect(evaluation.top1).toBeGreaterThan(0.9);
    const p = pyramid('predict', '--checkpoint', join(run, 'checkpoints', 'best'), join(root, 'test', 'light', '0.png'), '--json', '--top', '3');
    expect(p.status, p.stderr).toBe(0);
    const [prediction] = JSON.parse(p.stdout).predictions;
    expect(prediction.top[0].label).toBe('light');
    // The ranking follows the logits: label i is the i-th largest logit's class.
    const byLogit = prediction.logits.map((l: number, i: number) => [l, i]).sort((a: number[], b: number[]) => b[0] - a[0]);
    expect(prediction.top.map((t: { label: string }) => t.label)).toEqual(byLogit.map(([, i]: number[]) => ['dark', 'light', 'mid'][i]));
  });

  it("refuses a folder whose images do not fit the model's input, saying what to pass", () => {
    const root = brightnessFolder();
    const grey = pyramid('train', '--dataset', 'mnist', '--depth', '8', '--alpha', '4', '--classes', '3', '--data', root, '--epochs', '1', '--run', join(folder('grey'), 'run'), '--quiet');
    expect(grey.status).toBe(2);
    expect(grey.stderr).toBe(
      `pyramid: error: ${root} holds colour images (${join(root, 'train', 'dark', '0.png')} is 8x8x3) but the model takes 28x28x1: pass --input 8x8x3\n`,
    );
    const colour = pyramid('train', '--dataset', 'cifar10', '--depth', '8', '--alpha', '4', '--classes', '3', '--data', root, '--epochs', '1', '--run', join(folder('small'), 'run'), '--quiet');
    expect(colour.status).toBe(2);
    expect(colour.stderr).toBe(`pyramid: error: ${root} holds 8x8 images (${join(root, 'train', 'dark', '0.png')}) but the model takes 32x32: pass --input 8x8x3, or --input 32x32x3 to resize them\n`);
  });

  it('trains with Cutout and CutMix recorded in the run, and refuses mixup with CutMix', () => {
    const root = brightnessFolder();
    const runs = folder('cutmix');
    const model = [...BRIGHTNESS_MODEL, '--data', root, '--epochs', '1', '--batch-size', '8'];
    const t = pyramid('train', ...model, '--cutout', '4', '--cutmix', '0.5', '--run', join(runs, 'run'), '--quiet');
    expect(t.status, t.stderr).toBe(0);
    const { recipe } = JSON.parse(readFileSync(join(runs, 'run', 'run.json'), 'utf8'));
    expect([recipe.cutout, recipe.cutmix, recipe.cutmixBeta, recipe.mixup]).toEqual([4, 0.5, 1, 0]);
    const both = pyramid('train', ...model, '--mixup', '1', '--cutmix', '0.5', '--run', join(runs, 'both'));
    expect(both.status).toBe(2);
    expect(both.stderr).toBe('pyramid: error: --mixup and --cutmix both mix the batch: give one\n');
    expect(existsSync(join(runs, 'both'))).toBe(false);
  });

  it('names a data folder that does not exist', async () => {
    const dir = folder('nowhere');
    await useBackend('cpu');
    const model = new PyramidNet({ layout: 'cifar', depth: 8, alpha: 4, classes: 3, input: { height: 8, width: 8, channels: 3 } });
    await saveCheckpoint(join(dir, 'checkpoint'), model);
    model.dispose();
    // On the CPU: probing a software WebGPU adapter (auto) makes Dawn print its own warnings.
    const r = pyramid('eval', '--checkpoint', join(dir, 'checkpoint'), '--data', join(dir, 'nowhere'), '--backend', 'cpu');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`pyramid: error: --data '${join(dir, 'nowhere')}' is neither a dataset (mnist-sample, cifar10, cifar100, imagenet, mnist, fashion-mnist) nor an existing folder or archive\n`);
  });

  it('imports a reference PyTorch state_dict and exports it back unchanged', () => {
    // The fixture's 'weights.*' tensors are a state_dict saved from the reference implementation.
    const tensors = referenceStateDict();
    const dir = folder('import');
    const stateDict = join(dir, 'reference.safetensors');
    writeFileSync(stateDict, tensors);
    const i = pyramid('import', stateDict, '--dataset', 'cifar10', '--depth', '20', '--alpha', '12', '--out', join(dir, 'imported'));
    expect(i.status, i.stderr).toBe(0);
    const x = pyramid('export', '--checkpoint', join(dir, 'imported'), '--out', join(dir, 'exported.safetensors'));
    expect(x.status, x.stderr).toBe(0);
    const again = readFileSync(join(dir, 'exported.safetensors'));
    expect(tensorsOf(again)).toEqual(tensorsOf(readFileSync(stateDict)));
    // A CIFAR-10 model imported without class names gets CIFAR-10's, in the order of its batches.meta.
    const config = JSON.parse(readFileSync(join(dir, 'imported', 'config.json'), 'utf8'));
    expect(config.input.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(config.input.normalization).toEqual({ mean: [125.3, 123.0, 113.9], std: [63.0, 62.1, 66.7], scale: 1 });
    const onnx = pyramid('export', '--checkpoint', join(dir, 'imported'), '--out', join(dir, 'model.onnx'), '--format', 'onnx', '--input-layout', 'nhwc-uint8');
    expect(onnx.status, onnx.stderr).toBe(0);
    expect(onnx.stdout).toContain('input uint8 [N, 32, 32, 3] pixels, output logits [N, 10]');
    const session = spawnSync(process.execPath, ['-e', `require('onnxruntime-node').InferenceSession.create(process.argv[1]).then((s) => console.log(s.inputNames, s.outputNames))`, join(dir, 'model.onnx')], { encoding: 'utf8' });
    expect(session.stdout.trim()).toBe("[ 'input' ] [ 'logits' ]");
    const refused = pyramid('export', '--checkpoint', join(dir, 'imported'), '--out', join(dir, 'model.onnx'), '--format', 'onnx');
    expect(refused.stderr).toContain('model.onnx already exists; refusing to overwrite it');
    const bad = pyramid('import', stateDict, '--dataset', 'cifar10', '--depth', '20', '--alpha', '24', '--out', join(dir, 'wrong'));
    expect(bad.status).toBe(1);
    // alpha 24 over 9 units widens by 8/3 per unit: the first unit has 19 channels, alpha 12's 17.
    expect(bad.stderr).toMatch(/reference\.safetensors: shape mismatch for 'layer1\.0\.conv1\.weight': expected \[19, 16, 3, 3\] \(PyTorch layout\), found \[17, 16, 3, 3\]/);
    expect(existsSync(join(dir, 'wrong'))).toBe(false);
  });
});

const PYTHON = '/usr/bin/python3';
const hasTorch = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
/** The model of the torch.save fixtures: PyramidNet-8, alpha 12, on 17x17 images. */
const TORCH_FIXTURE_MODEL = ['--dataset', 'cifar10', '--depth', '8', '--alpha', '12', '--input', '17x17x3'];

describe('pyramid import and export of torch.save files', () => {
  it("imports the reference code's checkpoint dict to the weights of its safetensors twin", () => {
    const dir = folder('torch-import');
    const i = pyramid('import', torchFixture('reference-checkpoint.pth.tar'), ...TORCH_FIXTURE_MODEL, '--out', join(dir, 'imported'));
    expect(i.status, i.stderr).toBe(0);
    expect(i.stdout).toContain(
      "reference-checkpoint.pth.tar: read its 'state_dict' entry (epoch 12, arch pyramidnet, best_err1 4.31, best_err5 0.12); removed DataParallel's 'module.' prefixes\n",
    );
    const x = pyramid('export', '--checkpoint', join(dir, 'imported'), '--out', join(dir, 'exported.safetensors'));
    expect(x.status, x.stderr).toBe(0);
    expect(tensorsOf(readFileSync(join(dir, 'exported.safetensors')))).toEqual(tensorsOf(referenceStateDict('cifar-basic-8-a12-odd')));
  });

  it('re-initialises the head when --classes asks for another class count, and suggests it otherwise', () => {
    const dir = folder('torch-classes');
    const i = pyramid('import', torchFixture('state-dict.pt'), ...TORCH_FIXTURE_MODEL, '--classes', '3', '--out', join(dir, 'three'));
    expect(i.status, i.stderr).toBe(0);
    expect(i.stdout).toContain("re-initialised fc.weight, fc.bias for 3 classes (the file's head has 10)\n");
    expect(JSON.parse(readFileSync(join(dir, 'three', 'config.json'), 'utf8')).architecture.classes).toBe(3);
    const x = pyramid('export', '--checkpoint', join(dir, 'three'), '--out', join(dir, 'three.safetensors'));
    expect(x.status, x.stderr).toBe(0);
    const exported = tensorsOf(readFileSync(join(dir, 'three.safetensors')));
    const original = tensorsOf(referenceStateDict('cifar-basic-8-a12-odd'));
    expect(exported['conv1.weight']).toEqual(original['conv1.weight']);
    expect(exported['fc.weight'][1]).toBe('3x28');
    const hint = pyramid('import', torchFixture('state-dict.pt'), '--dataset', 'cifar100', '--depth', '8', '--alpha', '12', '--out', join(dir, 'hundred'));
    expect(hint.status).toBe(2);
    expect(hint.stderr).toMatch(/state-dict\.pt has a 10-class head but the model has 100 classes: give --classes 10, or --classes 100 to re-initialise the head\n$/);
    expect(existsSync(join(dir, 'hundred'))).toBe(false);
  });

  it('refuses a pickle that calls os.system, in one line, creating nothing', () => {
    const dir = folder('torch-malicious');
    const r = pyramid('import', torchFixture('malicious.pt'), ...TORCH_FIXTURE_MODEL, '--out', join(dir, 'imported'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pyramid: error: .*malicious\.pt\/data\.pkl: refusing to load: the pickle uses posix\.system, which a state_dict never needs .*\n$/);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(scratch, 'pyramid-torch-pwned.txt'))).toBe(false);
  });

  it.skipIf(!hasTorch)('exports a .pt that torch.load(weights_only=True) reads as the fixture state_dict (needs /usr/bin/python3 with torch)', () => {
    const dir = folder('torch-export');
    expect(pyramid('import', torchFixture('state-dict.pt'), ...TORCH_FIXTURE_MODEL, '--out', join(dir, 'imported')).status).toBe(0);
    const x = pyramid('export', '--checkpoint', join(dir, 'imported'), '--out', join(dir, 'exported.pt'));
    expect(x.status, x.stderr).toBe(0);
    expect(x.stdout).toContain("torch.load('");
    const check = `
import json, sys, torch
got = torch.load(sys.argv[1], weights_only=True)
want = torch.load(sys.argv[2], weights_only=True)
print(json.dumps({'keys': sorted(got) == sorted(want),
  'different': [k for k in want if got[k].dtype != want[k].dtype or got[k].shape != want[k].shape or not torch.equal(got[k], want[k])]}))`;
    const run = spawnSync(PYTHON, ['-c', check, join(dir, 'exported.pt'), torchFixture('state-dict.pt')], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ keys: true, different: [] });
  });
});

describe('pyramid train --init (fine-tuning)', () => {
  it('fine-tunes DataParallel weights from torch.save on a 3-class folder: classes from the folder, head re-initialised, body frozen', () => {
    const root = brightnessFolder();
    const dir = folder('fine-tune');
    const run = join(dir, 'run');
    const r = pyramid('train', '--init', torchFixture('data-parallel.pth'), ...TORCH_FIXTURE_MODEL.slice(0, -1), '8x8x3', '--data', root,
      '--freeze', 'body', '--head-lr-multiplier', '10', '--epochs', '1', '--batch-size', '8', '--lr', '0.01', '--run', run, '--json');
    expect(r.status, r.stderr).toBe(0);
    const start = JSON.parse(r.stdout.split('\n')[0]);
    expect(start.kind).toBe('start');
    expect(start.init.source).toBe(torchFixture('data-parallel.pth'));
    expect(start.init.reinitialised).toEqual(['fc.weight', 'fc.bias']);
    expect(start.init.skipped).toEqual([]);
    // 62 of the file's 64 tensors: all but the 10-class head.
    expect(start.init.loaded.length).toBe(62);
    const recorded = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    expect(recorded.architecture.classes).toBe(3);
    expect([recorded.recipe.freeze, recorded.recipe.headLrMultiplier]).toEqual(['body', 10]);
    // Frozen convolutions still hold the file's values after the epoch.
    expect(pyramid('export', '--checkpoint', join(run, 'checkpoints', 'last'), '--out', join(dir, 'tuned.safetensors')).status).toBe(0);
    const tuned = tensorsOf(readFileSync(join(dir, 'tuned.safetensors')));
    const original = tensorsOf(referenceStateDict('cifar-basic-8-a12-odd'));
    const convs = Object.keys(original).filter((k) => /conv\d\.weight$/.test(k));
    expect(convs.length).toBe(7);
    for (const name of convs) expect(tuned[name], name).toEqual(original[name]);
    // The head: 3 classes of the final 16 + 12 channels.
    expect(tuned['fc.weight'][1]).toBe('3x28');
  });

  it('takes the architecture from a checkpoint folder and refuses a pickle that runs code before loading data', () => {
    const root = brightnessFolder();
    const dir = folder('init-checkpoint');
    expect(pyramid('import', torchFixture('state-dict.pt'), ...TORCH_FIXTURE_MODEL, '--out', join(dir, 'imported')).status).toBe(0);
    const r = pyramid('train', '--init', join(dir, 'imported'), '--data', root, '--input', '8x8x3', '--epochs', '1', '--batch-size', '8', '--run', join(dir, 'run'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const start = JSON.parse(r.stdout.split('\n')[0]);
    expect([start.init.loaded.length, start.init.reinitialised]).toEqual([62, ['fc.weight', 'fc.bias']]);
    const recorded = JSON.parse(readFileSync(join(dir, 'run', 'run.json'), 'utf8'));
    expect([recorded.architecture.depth, recorded.architecture.alpha, recorded.architecture.classes]).toEqual([8, 12, 3]);
    const bad = pyramid('train', '--init', torchFixture('malicious.pt'), ...TORCH_FIXTURE_MODEL, '--data', join(dir, 'no-such-folder'), '--run', join(dir, 'bad'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/refusing to load: the pickle uses posix\.system/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});

/** tools/reference/make_fine_tune_fixture.py: starting weights, a 3-class folder of 8x8 PNGs, the reference's weights after 3 steps. */
const fineTune = fileURLToPath(new URL('../../../packages/pyramidnet/test/fixtures/fine-tune/', import.meta.url));

describe('pyramid train --init reaches the reference PyTorch weights', () => {
  it.each([
    ['basic-8-a12', ['--depth', '8', '--alpha', '12']],
    ['bottleneck-11-a8', ['--depth', '11', '--alpha', '8', '--bottleneck']],
  ])('%s: 3 full-batch steps from a torch.save file, every tensor within 1e-4 of the float64 reference', (name, model) => {
    const dir = folder(`reference-fine-tune-${name}`);
    const r = pyramid('train', '--init', `${fineTune}${name}-init.pt`, '--dataset', 'cifar10', ...model, '--input', '8x8x3', '--data', `${fineTune}images`,
      '--normalization', 'cifar', '--augment', 'none', '--batch-size', '12', '--epochs', '3', '--schedule', 'constant', '--lr', '0.05',
      '--momentum', '0.9', '--nesterov', '--weight-decay', '0.0001', '--label-smoothing', '0', '--eval-every', '3', '--run', join(dir, 'run'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const start = JSON.parse(r.stdout.split('\n')[0]);
    expect([start.stepsPerEpoch, start.init.reinitialised, start.init.skipped]).toEqual([1, [], []]);
    expect(pyramid('export', '--checkpoint', join(dir, 'run', 'checkpoints', 'last'), '--out', join(dir, 'after.safetensors')).status).toBe(0);
    const got = readSafetensors(new Uint8Array(readFileSync(join(dir, 'after.safetensors'))), 'after').tensors;
    const want = readSafetensors(new Uint8Array(readFileSync(`${fineTune}${name}-after.safetensors`)), 'reference').tensors;
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, expected] of want) {
      if (expected.dtype === 'I64') expect(toIntegers(got.get(key)!), key).toEqual(toIntegers(expected));
      else expect(relativeError(toFloat32(got.get(key)!), toFloat32(expected)), key).toBeLessThan(1e-4);
    }
  });
});

describe('pyramid train --resume RUN --epochs N', () => {
  it('extends a finished run, saying the schedule is recomputed; other recipe flags stay refused', () => {
    const root = brightnessFolder();
    const run = join(folder('extend'), 'run');
    const common = ['--data', root, '--batch-size', '8', '--lr', '0.05'];
    expect(pyramid('train', ...BRIGHTNESS_MODEL, ...common, '--epochs', '1', '--run', run, '--quiet').status).toBe(0);
    const r = pyramid('train', '--resume', run, '--epochs', '2');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('extending the run from 1 to 2 epochs: the learning-rate schedule is recomputed for 2 epochs (rate ');
    expect(r.stderr).toMatch(/done: 2 epochs, 18 steps/);
    expect(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).recipe.epochs).toBe(2);
    const refused = pyramid('train', '--resume', run, '--epochs', '3', '--lr', '0.1');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe('pyramid: error: --resume takes the model and recipe from the run folder; remove --lr\n');
  });
});

describe('pyramid on the WebGPU backend', () => {
  const status = (JSON.parse(pyramid('backends', '--json').stdout) as { name: string; available: boolean }[]).find((b) => b.name === 'webgpu');
  // CI installs Mesa's lavapipe (.ci/run): there WebGPU must run, not be skipped.
  it.runIf(status?.available || process.env.CI)('trains in Node and exits cleanly', () => {
    // 72 training and 18 test images of 8x8.
    const root = brightnessFolder();
    const run = join(folder('webgpu'), 'run');
    const r = pyramid('train', '--backend', 'webgpu', ...BRIGHTNESS_MODEL, '--data', root, '--epochs', '1', '--batch-size', '8', '--lr', '0.05', '--run', run, '--json');
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const steps = events.filter((e) => e.kind === 'step');
    expect(steps.length).toBe(9);
    expect(steps.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(events.find((e) => e.kind === 'epoch').top1).toBeGreaterThan(0);
  });

  it.runIf(status?.available || process.env.CI)('refuses to time single convolutions, which a GPU only queues', () => {
    const r = pyramid('bench', '--backend', 'webgpu', '--convs', '--compare', 'project', '--depth', '8', '--alpha', '4');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^pyramid: error: --convs times kernels that finish when they return, the cpu backend's; 'webgpu' queues its work$/m);
  });
});
