import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relativeError, useBackend } from '@pyramid/core';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyramidNet } from './model';
import { readSafetensors } from './safetensors';
import { referenceBatch, referenceStateDict, tiny, torchFixture } from './test-fixtures';
import { readTorchFile } from './torch-file';
import { exportPytorchWeights, importPytorchWeights } from './weights';

/**
 * The .pt/.pth fixtures were written by torch.save (Debian's PyTorch 1.13) from the weights of the
 * reference fixture cifar-basic-8-a12-odd (tools/reference/make_torch_files.py); the expected
 * logits are the reference PyTorch model's, stored in that fixture.
 */
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-torch-file-'));

beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function logits(bytes: Uint8Array, source: string): Float32Array {
  const model = new PyramidNet(tiny);
  importPytorchWeights(model, bytes, source);
  const { input } = referenceBatch();
  const out = model.predict(input).dataSync() as Float32Array;
  model.dispose();
  return out;
}

describe('reading files torch.save wrote', () => {
  it.each(['state-dict.pt', 'data-parallel.pth', 'reference-checkpoint.pth.tar', 'wrapped-model.pt', 'views.pt', 'legacy-checkpoint.pth.tar'])(
    '%s holds the fixture weights bit for bit and gives the reference logits',
    (file) => {
      const twin = readSafetensors(referenceStateDict());
      const read = readTorchFile(torchFixture(file), file);
      expect([...read.tensors.keys()].sort()).toEqual([...twin.tensors.keys()].sort());
      for (const [name, entry] of twin.tensors) {
        const got = read.tensors.get(name)!;
        expect([got.dtype, got.shape], name).toEqual([entry.dtype, entry.shape]);
        expect(Buffer.from(got.bytes).equals(Buffer.from(entry.bytes)), name).toBe(true);
      }
      expect(relativeError(logits(torchFixture(file), file), referenceBatch().evalLogits)).toBeLessThan(1e-4);
    },
  );

  it.each(['reference-checkpoint.pth.tar', 'legacy-checkpoint.pth.tar'])('finds the state_dict of the reference checkpoint dict (%s) and reports what was beside it', (file) => {
    const { info } = readTorchFile(torchFixture(file), file);
    expect(info).toEqual({ entry: 'state_dict', dataParallel: true, extras: { epoch: 12, arch: 'pyramidnet', best_err1: 4.31, best_err5: 0.12 } });
  });

  it.each(['float16', 'bfloat16'])('a %s state_dict gives the logits of its safetensors twin', (dtype) => {
    const read = readTorchFile(torchFixture(`${dtype}.pt`), `${dtype}.pt`);
    expect(read.tensors.get('conv1.weight')!.dtype).toBe(dtype === 'float16' ? 'F16' : 'BF16');
    const fromTorch = logits(torchFixture(`${dtype}.pt`), `${dtype}.pt`);
    const fromTwin = logits(torchFixture(`${dtype}.safetensors`), `${dtype}.safetensors`);
    expect(Array.from(fromTorch)).toEqual(Array.from(fromTwin));
  });

  it('refuses a pickle that calls os.system, and runs nothing', () => {
    const before = readdirSync(process.cwd());
    expect(() => readTorchFile(torchFixture('malicious.pt'), 'malicious.pt')).toThrow(
      /^malicious\.pt\/data\.pkl: refusing to load: the pickle uses posix\.system, which a state_dict never needs/,
    );
    expect(existsSync(join(process.cwd(), 'pyramid-torch-pwned.txt'))).toBe(false);
    expect(readdirSync(process.cwd())).toEqual(before);
    expect(() => readTorchFile(torchFixture('legacy-malicious.pt'), 'legacy.pt')).toThrow(/^legacy\.pt: refusing to load: the pickle uses posix\.system/);
    expect(existsSync(join(process.cwd(), 'pyramid-torch-pwned.txt'))).toBe(false);
  });
});

/** A torch.save-like zip around a hand-written pickle. */
function zipWith(pickle: number[], storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = { 'archive/data.pkl': Uint8Array.from(pickle) };
  for (const [key, data] of Object.entries(storages)) files[`archive/data/${key}`] = data;
  return zipSync(files, { level: 0 });
}
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const unicode = (s: string) => [0x58, s.length, 0, 0, 0, ...ascii(s)];

describe('the restricted pickle reader', () => {
  it('refuses any global outside a state_dict before using it', () => {
    const pickle = [0x80, 2, ...ascii('cbuiltins\neval\n'), ...unicode('1+1'), 0x85, 0x52, 0x2e];
    expect(() => readTorchFile(zipWith(pickle), 'eval.pt')).toThrow('eval.pt/data.pkl: refusing to load: the pickle uses builtins.eval');
  });

  it('refuses object-building opcodes', () => {
    const pickle = [0x80, 2, 0x28, ...ascii('iposix\nsystem\n'), 0x2e];
    expect(() => readTorchFile(zipWith(pickle), 'inst.pt')).toThrow('inst.pt/data.pkl: refusing to load: pickle opcode INST (byte 3) is not part of a state_dict');
  });

  it('refuses calling an allowed class other than OrderedDict', () => {
    const pickle = [0x80, 2, ...ascii('ctorch\nFloatStorage\n'), 0x29, 0x52, 0x2e];
    expect(() => readTorchFile(zipWith(pickle), 'storage.pt')).toThrow('storage.pt/data.pkl: refusing to load: the pickle uses torch.FloatStorage(...)');
  });

  it('names a tensor whose strides reach past its storage', () => {
    // {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 1, (2, 2), (2, 1), False, OrderedDict())}
    const pickle = [
      0x80, 2, 0x7d, ...unicode('w'), ...ascii('ctorch._utils\n_rebuild_tensor_v2\n'), 0x28,
      0x28, ...unicode('storage'), ...ascii('ctorch\nFloatStorage\n'), ...unicode('0'), ...unicode('cpu'), 0x4b, 4, 0x74, 0x51,
      0x4b, 1, 0x4b, 2, 0x4b, 2, 0x86, 0x4b, 2, 0x4b, 1, 0x86, 0x89, ...ascii('ccollections\nOrderedDict\n'), 0x29, 0x52,
      0x74, 0x52, 0x73, 0x2e,
    ];
    expect(() => readTorchFile(zipWith(pickle, { 0: new Uint8Array(16) }), 'short.pt')).toThrow("short.pt: tensor 'w' reads element 4 of a storage of 4");
  });

  it('refuses a tensor that zero strides make huge', () => {
    // {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 1), 0, (65536, 65536), (0, 0), False, OrderedDict())}
    const pickle = [
      0x80, 2, 0x7d, ...unicode('w'), ...ascii('ctorch._utils\n_rebuild_tensor_v2\n'), 0x28,
      0x28, ...unicode('storage'), ...ascii('ctorch\nFloatStorage\n'), ...unicode('0'), ...unicode('cpu'), 0x4b, 1, 0x74, 0x51,
      0x4b, 0, 0x4a, 0, 0, 1, 0, 0x4a, 0, 0, 1, 0, 0x86, 0x4b, 0, 0x4b, 0, 0x86, 0x89, ...ascii('ccollections\nOrderedDict\n'), 0x29, 0x52,
      0x74, 0x52, 0x73, 0x2e,
    ];
    expect(() => readTorchFile(zipWith(pickle, { 0: new Uint8Array(4) }), 'huge.pt')).toThrow("huge.pt: tensor 'w' of size [65536, 65536] is larger than 2147483647 bytes");
  });

  it('refuses compressed records, which torch.save never writes', () => {
    const files = { 'archive/data.pkl': new Uint8Array(1000) };
    expect(() => readTorchFile(zipSync(files, { level: 9 }), 'deflated.pt')).toThrow('deflated.pt: record archive/data.pkl is compressed, which torch.save never does');
  });

  it('turns any corruption of a real file into a WeightsError naming it (200 random byte changes)', () => {
    const original = torchFixture('reference-checkpoint.pth.tar');
    let state = 12345;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    let refused = 0;
    for (let trial = 0; trial < 200; trial++) {
      const bytes = original.slice();
      // The pickle sits at the start of the zip: corrupt there, where the reader must hold.
      for (let k = 0; k < 3; k++) bytes[Math.floor(next() * 20000)] = Math.floor(next() * 256);
      try {
        readTorchFile(bytes, 'corrupt.pt');
      } catch (error) {
        expect((error as Error).name, (error as Error).message).toBe('WeightsError');
        expect((error as Error).message.startsWith('corrupt.pt')).toBe(true);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('names a legacy-format file cut short in its storages', () => {
    const legacy = torchFixture('legacy-checkpoint.pth.tar');
    expect(() => readTorchFile(legacy.subarray(0, legacy.length - 100), 'cut.pth.tar')).toThrow(/^cut\.pth\.tar: truncated in storage '\d+' \(\d+ elements\)$/);
  });
});

const PYTHON = '/usr/bin/python3';
const hasTorch = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe('writing a file for torch.load', () => {
  it.skipIf(!hasTorch)('torch.load(weights_only=True) reads the state_dict torch.save wrote for the same weights (skipped without /usr/bin/python3 and torch)', async () => {
    const model = new PyramidNet(tiny);
    importPytorchWeights(model, referenceStateDict(), 'reference');
    const path = join(scratch, 'exported.pt');
    writeFileSync(path, await exportPytorchWeights(model, 'torch'));
    const expected = join(scratch, 'expected.pt');
    writeFileSync(expected, torchFixture('state-dict.pt'));
    const check = `
import json, sys, torch
got = torch.load(sys.argv[1], weights_only=True)
want = torch.load(sys.argv[2], weights_only=True)
print(json.dumps({'type': type(got).__name__, 'keys': sorted(got) == sorted(want),
  'different': [k for k in want if got[k].dtype != want[k].dtype or got[k].shape != want[k].shape or not torch.equal(got[k], want[k])]}))`;
    const run = spawnSync(PYTHON, ['-c', check, path, expected], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ type: 'OrderedDict', keys: true, different: [] });
  });
});
