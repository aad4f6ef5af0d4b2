import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@pyramid/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, WEIGHTS_FILE } from './checkpoint';
import { loadCheckpoint, saveCheckpoint } from './checkpoint-folder';
import { PyramidNet } from './model';
import { referenceStateDict, snapshot, tiny } from './test-fixtures';
import { readSafetensors, toFloat32 } from './safetensors';
import { importPytorchWeights } from './weights';


const folders: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-checkpoint-'));
  folders.push(dir);
  return dir;
}

beforeAll(async () => {
  await useBackend('cpu');
});
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('checkpoint folders', () => {
  it('rebuild the same model, weights, running statistics and input description', async () => {
    const model = new PyramidNet(tiny, { seed: 9 });
    importPytorchWeights(model, referenceStateDict());
    const dir = join(scratch(), 'ckpt');
    await saveCheckpoint(dir, model, { classNames: 'abcdefghij'.split('') });
    const { model: loaded, config } = await loadCheckpoint(dir);
    expect(config.architecture).toMatchObject(tiny);
    expect(config.input.classNames).toEqual('abcdefghij'.split(''));
    expect(config.input.shape).toEqual({ height: 17, width: 17, channels: 3 });
    expect(snapshot(loaded)).toEqual(snapshot(model));
  });

  it('carry named parts beside the model: tensors as safetensors, documents as JSON', async () => {
    const dir = join(scratch(), 'with-parts');
    const buffers = new Map([
      ['conv1.weight', { shape: [2, 3], values: Float32Array.from([1, -2, 3.5, 0, 1e-7, -0]) }],
      ['fc.bias', { shape: [1], values: Float32Array.from([42]) }],
    ]);
    const state = { epoch: 3, step: 120, rng: { seed: 7 } };
    await saveCheckpoint(dir, new PyramidNet(tiny), {}, { parts: { tensors: { optimizer: buffers }, documents: { state } } });
    expect(readdirSync(dir).sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE, 'optimizer.safetensors', 'state.json'].sort());
    const loaded = await loadCheckpoint(dir, { tensors: ['optimizer'], documents: ['state'] });
    expect(loaded.documents.state).toEqual(state);
    expect([...loaded.tensors.optimizer.keys()].sort()).toEqual(['conv1.weight', 'fc.bias']);
    for (const [name, { shape, values }] of buffers) {
      expect(loaded.tensors.optimizer.get(name)!.shape).toEqual(shape);
      expect(Array.from(loaded.tensors.optimizer.get(name)!.values)).toEqual(Array.from(values));
    }
    await expect(loadCheckpoint(dir, { documents: ['missing'] })).rejects.toThrow(`${join(dir, 'missing.json')}: not found (is ${dir} a checkpoint folder?)`);
  });

  it('never overwrite an existing folder unless asked', async () => {
    const dir = join(scratch(), 'kept');
    await saveCheckpoint(dir, new PyramidNet(tiny));
    const before = readFileSync(join(dir, WEIGHTS_FILE));
    await expect(saveCheckpoint(dir, new PyramidNet(tiny, { seed: 1 }))).rejects.toThrow(/already exists; refusing to overwrite it/);
    expect(readFileSync(join(dir, WEIGHTS_FILE)).equals(before)).toBe(true);
    await saveCheckpoint(dir, new PyramidNet(tiny, { seed: 1 }), {}, { overwrite: true });
    expect(readFileSync(join(dir, WEIGHTS_FILE)).equals(before)).toBe(false);
  });

  it('report a corrupt config and a weights file of another architecture', async () => {
    const root = scratch();
    const dir = join(root, 'broken');
    await saveCheckpoint(dir, new PyramidNet(tiny));
    const goodConfig = readFileSync(join(dir, CONFIG_FILE));
    writeFileSync(join(dir, CONFIG_FILE), '{"format": "pyramidnet-ts/checkpoint", ');
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${dir}/config.json: not valid JSON`);

    const other = join(root, 'other');
    await saveCheckpoint(other, new PyramidNet({ ...tiny, depth: 14 }));
    writeFileSync(join(dir, CONFIG_FILE), goodConfig);
    writeFileSync(join(dir, WEIGHTS_FILE), readFileSync(join(other, WEIGHTS_FILE)));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${dir}/model.safetensors: unexpected keys`);
  });

  it('report a folder that is not a checkpoint', async () => {
    const dir = scratch();
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, CONFIG_FILE)}: not found (is ${dir} a checkpoint folder?)`);
  });

  it('store kernels in the native HWIO layout', async () => {
    const model = new PyramidNet(tiny);
    const dir = join(scratch(), 'layout');
    await saveCheckpoint(dir, model);
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, WEIGHTS_FILE))));
    expect(tensors.get('conv1.weight')!.shape).toEqual([3, 3, 3, 16]);
    expect(Array.from(toFloat32(tensors.get('conv1.weight')!))).toEqual(Array.from(model.conv1.weight.dataSync()));
  });
});
