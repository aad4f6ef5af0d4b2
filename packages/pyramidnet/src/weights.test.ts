import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@pyramid/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyramidNet } from './model';
import { referenceStateDict, snapshot, tiny } from './test-fixtures';
import { readSafetensors, toFloat32, writeSafetensors } from './safetensors';
import { exportPytorchWeights, importPytorchWeights, transferWeights } from './weights';

const scratch = mkdtempSync(join(tmpdir(), 'pyramid-weights-'));

beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('PyTorch weights', () => {
  it('round-trip losslessly: export(import(file)) has every tensor bit for bit', async () => {
    const original = referenceStateDict();
    const model = new PyramidNet(tiny);
    importPytorchWeights(model, original, 'ref.safetensors');
    const again = readSafetensors(await exportPytorchWeights(model));
    const before = readSafetensors(original);
    expect([...again.tensors.keys()].sort()).toEqual([...before.tensors.keys()].sort());
    for (const [name, entry] of before.tensors) {
      expect(again.tensors.get(name)!.shape, name).toEqual(entry.shape);
      expect(Buffer.from(again.tensors.get(name)!.bytes).equals(Buffer.from(entry.bytes)), name).toBe(true);
    }
  });

  it('names a missing key and changes nothing', () => {
    const { tensors } = readSafetensors(referenceStateDict());
    tensors.delete('layer2.0.bn1.running_var');
    const bytes = writeSafetensors(new Map([...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.bytes }])));
    const model = new PyramidNet(tiny, { seed: 3 });
    const before = snapshot(model);
    expect(() => importPytorchWeights(model, bytes, 'ref.safetensors')).toThrow("ref.safetensors: missing key 'layer2.0.bn1.running_var'");
    expect(snapshot(model)).toEqual(before);
  });

  it('names an unexpected key', () => {
    const { tensors } = readSafetensors(referenceStateDict());
    const entries = [...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.bytes }] as [string, never]);
    entries.push(['layer9.0.conv1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) } as never]);
    expect(() => importPytorchWeights(new PyramidNet(tiny), writeSafetensors(new Map(entries)), 'ref.safetensors')).toThrow(
      "ref.safetensors: unexpected key 'layer9.0.conv1.weight'",
    );
  });

  it('names a shape mismatch with both shapes, in PyTorch layout', async () => {
    const other = new PyramidNet({ ...tiny, alpha: 24 });
    const bytes = await exportPytorchWeights(other);
    expect(() => importPytorchWeights(new PyramidNet(tiny), bytes, 'wide.safetensors')).toThrow(
      "wide.safetensors: shape mismatch for 'layer1.0.conv1.weight': expected [20, 16, 3, 3] (PyTorch layout), found [24, 16, 3, 3]",
    );
  });

  it('refuses a truncated file', () => {
    const bytes = referenceStateDict();
    expect(() => importPytorchWeights(new PyramidNet(tiny), bytes.subarray(0, bytes.length - 10), 'cut.safetensors')).toThrow(/cut\.safetensors: truncated/);
  });
});

describe('transferWeights (fine-tuning starts)', () => {
  it('loads the body of a 10-class state_dict into a 3-class model and leaves its head as initialised', () => {
    const file = readSafetensors(referenceStateDict());
    const model = new PyramidNet({ ...tiny, classes: 3 }, { seed: 5 });
    const fresh = snapshot(new PyramidNet({ ...tiny, classes: 3 }, { seed: 5 }));
    const report = transferWeights(model, file, 'pytorch', 'ref.safetensors');
    expect(report.reinitialised).toEqual(['fc.weight', 'fc.bias']);
    expect(report.skipped).toEqual([]);
    // Every other tensor of the file, batch counters included.
    expect(report.loaded.length).toBe(file.tensors.size - 2);
    const after = snapshot(model);
    expect(after.get('fc.weight')).toEqual(fresh.get('fc.weight'));
    expect(after.get('fc.bias')).toEqual(fresh.get('fc.bias'));
    // The file's conv1 (OIHW [16, 3, 3, 3]) element [o=1, i=0, y=0, x=0] is HWIO element [0, 0, 0, 1].
    const conv1 = toFloat32(file.tensors.get('conv1.weight')!);
    expect(after.get('conv1.weight')![1]).toBe(conv1[27]);
    expect(after.get('layer1.0.bn1.running_var')).toEqual(Array.from(toFloat32(file.tensors.get('layer1.0.bn1.running_var')!)));
  });

  it('skips tensors the model lacks and refuses a body that does not fit', () => {
    const { tensors } = readSafetensors(referenceStateDict());
    tensors.set('aux.weight', { dtype: 'F32', shape: [1], bytes: new Uint8Array(4) });
    expect(transferWeights(new PyramidNet(tiny), { tensors, metadata: {} }, 'pytorch', 'ref').skipped).toEqual(['aux.weight']);
    tensors.delete('layer2.0.conv1.weight');
    const model = new PyramidNet({ ...tiny, classes: 3 });
    const before = snapshot(model);
    expect(() => transferWeights(model, { tensors, metadata: {} }, 'pytorch', 'ref')).toThrow("ref: missing key 'layer2.0.conv1.weight'");
    expect(snapshot(model)).toEqual(before);
  });
});
