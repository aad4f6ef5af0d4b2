import { ConfigError, WeightsError, useBackend } from '@pyramid/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointConfig, decodeCheckpoint, encodeCheckpoint, parseCheckpointConfig } from './checkpoint';
import { ARCHITECTURE_LIMITS } from './config-schema';
import { PyramidNet } from './model';
import { readSafetensors, toFloat32, writeSafetensors } from './safetensors';

// Mutated bytes and mutated config.json documents fed to this package's parsers: each returns a
// result or throws a WeightsError naming the file, never another exception. Seeds are fixed so
// that a failure repeats.

const RUNS = { numRuns: 300, seed: 20261130 };

function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = valid.length;
  return fc.oneof(
    fc.nat(n).map((k) => valid.slice(0, k)),
    fc.array(fc.tuple(fc.nat(n - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((edits) => {
      const out = valid.slice();
      for (const [at, value] of edits) out[at] = value;
      return out;
    }),
    fc.uint8Array({ maxLength: 2 * n }),
  );
}

function refusedCleanly(error: unknown, source: string): void {
  expect(error, String(error)).toBeInstanceOf(WeightsError);
  expect((error as Error).message.startsWith(source)).toBe(true);
  expect((error as Error).message).not.toContain('\n');
}

let config: CheckpointConfig;
let weights: Uint8Array;

beforeAll(async () => {
  await useBackend('cpu');
  const model = new PyramidNet({ layout: 'cifar', depth: 8, alpha: 4, classes: 3, input: { height: 8, width: 8, channels: 3 } });
  ({ config, weights } = await encodeCheckpoint(model));
  model.dispose();
});

describe('parsers given mutated input', () => {
  it('safetensors: tensors whose bytes lie in the file, or a WeightsError', () => {
    const valid = writeSafetensors({ a: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, b: { dtype: 'F32', shape: [1], data: Float32Array.from([7]) } });
    fc.assert(
      fc.property(mutated(valid), (bytes) => {
        try {
          const file = readSafetensors(bytes, 'x.safetensors');
          for (const entry of file.tensors.values()) {
            const values = toFloat32(entry);
            expect(values.length).toBe(entry.shape.reduce((a, b) => a * b, 1));
          }
        } catch (error) {
          refusedCleanly(error, 'x.safetensors: ');
        }
      }),
      RUNS,
    );
  });

  it('config.json: a field replaced by any JSON value is accepted or refused in one line', () => {
    const paths = [
      ['architecture', 'depth'], ['architecture', 'alpha'], ['architecture', 'classes'], ['architecture', 'layout'], ['architecture', 'input'],
      ['architecture', 'shakeDrop'], ['architecture', 'unit'], ['input', 'normalization'], ['input', 'normalization', 'std'], ['input', 'classNames'],
      ['input', 'shape'], ['input'], ['architecture'], ['format'], ['version'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 }), (path, value) => {
        const copy = structuredClone(config) as Record<string, any>;
        let at = copy;
        for (const key of path.slice(0, -1)) at = at[key];
        at[path[path.length - 1]] = value;
        const text = JSON.stringify(copy);
        let parsed: ReturnType<typeof parseCheckpointConfig>;
        try {
          parsed = parseCheckpointConfig(text, 'ck/config.json');
        } catch (error) {
          refusedCleanly(error, 'ck/config.json: ');
          return;
        }
        // What an accepted config promises the commands that read it.
        const { architecture, input } = parsed;
        expect(input.classNames.length).toBe(architecture.classes);
        expect(input.normalization.std.every((s) => typeof s === 'number' && s > 0)).toBe(true);
        expect(input.normalization.mean.length).toBe(input.shape.channels);
        expect(architecture.depth).toBeLessThanOrEqual(ARCHITECTURE_LIMITS.depth);
        expect(architecture.alpha).toBeLessThanOrEqual(ARCHITECTURE_LIMITS.alpha);
        // Accepted by the schema: the model builds, or the architecture's own check refuses it.
        try {
          decodeCheckpoint(text, weights, 'ck').model.dispose();
        } catch (error) {
          expect(error instanceof WeightsError || error instanceof ConfigError, String(error)).toBe(true);
        }
      }),
      { ...RUNS, numRuns: 400 },
    );
  });

  it('config.json as mutated bytes: a WeightsError, never another exception', () => {
    const valid = new TextEncoder().encode(JSON.stringify(config));
    fc.assert(
      fc.property(mutated(valid), (bytes) => {
        try {
          parseCheckpointConfig(new TextDecoder().decode(bytes), 'ck/config.json');
        } catch (error) {
          refusedCleanly(error, 'ck/config.json');
        }
      }),
      RUNS,
    );
  });
});
