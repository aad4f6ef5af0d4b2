import { describe, expect, it } from 'vitest';
import { type Recipe, RECIPES } from './recipes';
import { type RunConfigOptions, createRunConfig, validateRecipe } from './run-config';

/** A run that can train: PyramidNet-8 on 96 grey 8x8 images of 4 classes. */
function options(recipe: Partial<Recipe> = {}, rest: Partial<RunConfigOptions> = {}): RunConfigOptions {
  return {
    architecture: { layout: 'cifar', depth: 8, alpha: 4, classes: 4, input: { height: 8, width: 8, channels: 1 } },
    data: { name: 'toy', source: 'toy', options: {}, trainImages: 96, testImages: 32, classNames: ['a', 'b', 'c', 'd'], normalization: { mean: [100], std: [60], scale: 1 } },
    recipeName: 'quick',
    recipe: { ...RECIPES.quick, ...recipe },
    ...rest,
  };
}

describe('createRunConfig', () => {
  it('fills the defaults and resolves the architecture', () => {
    const config = createRunConfig(options());
    expect([config.format, config.version, config.preset, config.seed, config.evalEvery, config.checkpointEvery]).toEqual(['pyramidnet-ts/run', 1, null, 0, 1, 0]);
    // Every architecture setting spelled out, with the paper's defaults: basic units, additive
    // widening, zero-padded shortcuts, no ShakeDrop.
    expect(config.architecture).toMatchObject({ layout: 'cifar', depth: 8, alpha: 4, unit: 'basic', widening: 'additive', shortcut: 'zero-pad', shakeDrop: null });
  });

  it.each([
    ['a batch size of 0', options({ batchSize: 0 }), 'recipe.batchSize must be a positive integer, got 0'],
    ['a fractional batch size', options({ batchSize: 1.5 }), 'recipe.batchSize must be a positive integer, got 1.5'],
    ['a batch larger than the data', options({ batchSize: 97 }), 'recipe.batchSize 97 is larger than the 96 training images'],
    ['label smoothing of 1', options({ labelSmoothing: 1 }), 'recipe.labelSmoothing must be in [0, 1), got 1'],
    ['a fractional Cutout', options({ cutout: 2.5 }), 'recipe.cutout must be a whole number of pixels (0: off), got 2.5'],
    ['mixup with CutMix', options({ mixup: 1, cutmix: 0.5 }), 'recipe.mixup and recipe.cutmix both mix the batch: give one'],
    ['CutMix on more than every batch', options({ cutmix: 1.5 }), 'recipe.cutmix must be a share of batches in [0, 1], got 1.5'],
    ['Nesterov without momentum', options({ momentum: 0 }), 'recipe.nesterov needs momentum > 0 and dampening 0'],
    ['no epochs', options({ epochs: 0 }), 'epochs must be a positive integer, got 0'],
    ['a negative seed', options({}, { seed: -1 }), 'seed must be a non-negative integer, got -1'],
    ['a fractional seed', options({}, { seed: 0.5 }), 'seed must be a non-negative integer, got 0.5'],
    ['evaluation every 0 epochs', options({}, { evalEvery: 0 }), 'evalEvery must be a positive integer, got 0'],
    ['a negative checkpoint interval', options({}, { checkpointEvery: -2 }), 'checkpointEvery must be a non-negative integer (0: at epoch ends), got -2'],
  ])('refuses %s', (_, given, message) => {
    expect(() => createRunConfig(given)).toThrow(message);
  });

  it('refuses data that does not fit the model', () => {
    const base = options();
    expect(() => createRunConfig({ ...base, data: { ...base.data, classNames: ['a', 'b', 'c'] } })).toThrow('the model has 4 classes but toy has 3');
    expect(() => createRunConfig({ ...base, data: { ...base.data, trainImages: 0 } })).toThrow('data.trainImages must be a positive integer, got 0');
    expect(() => createRunConfig({ ...base, data: { ...base.data, normalization: { mean: [1, 2, 3], std: [1, 1, 1], scale: 1 } } })).toThrow(
      'data.normalization has 3 means and 3 deviations for 1-channel images',
    );
    expect(() => createRunConfig({ ...base, architecture: { ...base.architecture, depth: 9 } })).toThrow(/depth 9 is impossible/);
  });

  it('names settings as the caller asks: the CLI by flag', () => {
    const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    expect(() => createRunConfig(options({ labelSmoothing: -0.1 }), flag)).toThrow('--label-smoothing must be in [0, 1), got -0.1');
    expect(() => createRunConfig(options({}, { checkpointEvery: 0.5 }), flag)).toThrow('--checkpoint-every must be a non-negative integer');
  });
});

describe('validateRecipe', () => {
  it('accepts every shipped recipe', () => {
    for (const recipe of Object.values(RECIPES)) expect(() => validateRecipe(recipe)).not.toThrow();
  });

  it('reads a recipe recorded before Cutout, mixup and CutMix existed as having them off', () => {
    const { cutout: _c, mixup: _m, cutmix: _x, cutmixBeta: _b, ...older } = RECIPES['paper-cifar10'];
    expect(() => validateRecipe(older as Recipe)).not.toThrow();
  });
});
