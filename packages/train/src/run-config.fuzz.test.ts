import { ConfigError } from '@pyramid/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECIPES } from './recipes';
import { type RunConfig, createRunConfig, validateRunConfig } from './run-config';

// A run.json with one field replaced by any JSON value: validateRunConfig accepts it or throws a
// ConfigError in one line, never another exception, so that `--resume` on any folder is a clear
// error. Fixed seed, so that a failure repeats.

const valid: RunConfig = createRunConfig({
  architecture: { layout: 'cifar', depth: 8, alpha: 4, classes: 4, input: { height: 8, width: 8, channels: 1 } },
  data: { name: 'toy', source: 'toy', options: {}, trainImages: 96, testImages: 32, classNames: ['a', 'b', 'c', 'd'], normalization: { mean: [100], std: [60], scale: 1 } },
  recipeName: 'quick',
  recipe: { ...RECIPES.quick },
});

const PATHS = [
  ['format'], ['version'], ['preset'], ['architecture'], ['architecture', 'depth'], ['architecture', 'alpha'], ['architecture', 'input'],
  ['data'], ['data', 'source'], ['data', 'classNames'], ['data', 'normalization'], ['data', 'normalization', 'std'], ['data', 'trainImages'],
  ['recipe'], ['recipe', 'schedule'], ['recipe', 'schedule', 'milestones'], ['recipe', 'batchSize'], ['recipe', 'augment'], ['recipe', 'lr'],
  ['seed'], ['evalEvery'], ['checkpointEvery'],
];

describe('run.json validation given mutated documents', () => {
  it('accepts or refuses with one ConfigError line', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), fc.jsonValue({ maxDepth: 2 }), (path, value) => {
        const copy = structuredClone(valid) as unknown as Record<string, any>;
        let at = copy;
        for (const key of path.slice(0, -1)) at = at[key];
        at[path[path.length - 1]] = value;
        try {
          validateRunConfig(JSON.parse(JSON.stringify(copy)), 'r/run.json');
        } catch (error) {
          expect(error, String(error)).toBeInstanceOf(ConfigError);
          expect((error as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 500, seed: 20261130 },
    );
  });
});
