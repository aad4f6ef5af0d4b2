import { ConfigError, type Normalization, type Preprocessing, assertSeed } from '@pyramid/core';
import { type ArchitectureConfig, architectureConfig, architectureSchema, firstIssue, normalizationSchema, preprocessingSchema, resolveArchitecture } from '@pyramid/pyramidnet';
import { z } from 'zod';
import type { Recipe } from './recipes';
import { validateLrPolicy } from './schedule';

export const RUN_FORMAT = 'pyramidnet-ts/run';

/** What a run was trained on; `source` and `options` say how to load it again (the CLI's --data and its flags). */
export interface RunData {
  name: string;
  source: string;
  options: Record<string, unknown>;
  trainImages: number;
  testImages: number;
  classNames: string[];
  normalization: Normalization;
  /** How evaluation and prediction bring images of another size to the model's; absent: the model's default. */
  preprocessing?: Preprocessing;
}

/** Everything that defines a training run; stored as run.json. */
export interface RunConfig {
  format: typeof RUN_FORMAT;
  version: 1;
  preset: string | null;
  architecture: Required<ArchitectureConfig>;
  data: RunData;
  recipeName: string;
  recipe: Recipe;
  seed: number;
  /** Evaluate on the test set every this many epochs (and after the last). */
  evalEvery: number;
  /** Also checkpoint every this many steps (0: at epoch ends only). */
  checkpointEvery: number;
  /** Fine-tuning runs: the weights they started from, and the tensors not taken from them. */
  init?: { source: string; reinitialised: string[]; skipped: string[] };
}

/**
 * How errors name a setting: the library names the key (`recipe.batchSize`), the CLI names its
 * flag (`--batch-size`).
 */
export type SettingNames = (key: string) => string;

const RUN_SETTINGS = new Set(['seed', 'evalEvery', 'checkpointEvery']);
const keyNames: SettingNames = (key) => (RUN_SETTINGS.has(key) ? key : `recipe.${key}`);

const isCount = (n: number, least: number) => Number.isInteger(n) && n >= least;

/**
 * Throws a ConfigError naming the first setting of `recipe` that cannot train. Runs recorded
 * before Cutout, mixup and CutMix existed have none of their settings: they are off.
 */
export function validateRecipe(recipe: Recipe, name: SettingNames = keyNames): void {
  const { cutout = 0, mixup = 0, cutmix = 0, cutmixBeta = 1, freeze = 'none', headLrMultiplier = 1 } = recipe;
  if (!isCount(recipe.batchSize, 1)) throw new ConfigError(`${name('batchSize')} must be a positive integer, got ${recipe.batchSize}`);
  if (!(recipe.labelSmoothing >= 0 && recipe.labelSmoothing < 1)) throw new ConfigError(`${name('labelSmoothing')} must be in [0, 1), got ${recipe.labelSmoothing}`);
  if (!isCount(cutout, 0)) throw new ConfigError(`${name('cutout')} must be a whole number of pixels (0: off), got ${cutout}`);
  if (!(mixup >= 0)) throw new ConfigError(`${name('mixup')} must be a positive alpha (0: off), got ${mixup}`);
  if (!(cutmix >= 0 && cutmix <= 1)) throw new ConfigError(`${name('cutmix')} must be a share of batches in [0, 1], got ${cutmix}`);
  if (!(cutmixBeta > 0)) throw new ConfigError(`${name('cutmixBeta')} must be positive, got ${cutmixBeta}`);
  if (mixup > 0 && cutmix > 0) throw new ConfigError(`${name('mixup')} and ${name('cutmix')} both mix the batch: give one`);
  if (!['cifar', 'imagenet', 'none'].includes(recipe.augment)) throw new ConfigError(`${name('augment')} must be cifar, imagenet or none, got ${JSON.stringify(recipe.augment)}`);
  if (!['none', 'body', 'all-but-last-stage'].includes(freeze)) throw new ConfigError(`${name('freeze')} must be none, body or all-but-last-stage, got ${JSON.stringify(freeze)}`);
  if (!(headLrMultiplier > 0 && Number.isFinite(headLrMultiplier))) throw new ConfigError(`${name('headLrMultiplier')} must be a positive number, got ${headLrMultiplier}`);
  if (!(recipe.momentum >= 0)) throw new ConfigError(`${name('momentum')} must be non-negative, got ${recipe.momentum}`);
  if (!(recipe.weightDecay >= 0)) throw new ConfigError(`${name('weightDecay')} must be non-negative, got ${recipe.weightDecay}`);
  if (recipe.nesterov && (recipe.momentum <= 0 || recipe.dampening !== 0)) throw new ConfigError(`${name('nesterov')} needs momentum > 0 and dampening 0`);
  validateLrPolicy({ baseLr: recipe.lr, epochs: recipe.epochs, schedule: recipe.schedule, warmupEpochs: recipe.warmupEpochs });
}

/** The shape of a run.json: every field typed, so that what follows may read any of them. */
const runConfigSchema = z.object({
  format: z.literal(RUN_FORMAT),
  version: z.literal(1),
  preset: z.string().nullable(),
  architecture: architectureSchema,
  data: z.object({
    name: z.string(),
    source: z.string(),
    options: z.record(z.string(), z.unknown()),
    trainImages: z.number(),
    testImages: z.number(),
    classNames: z.array(z.string()),
    normalization: normalizationSchema,
    preprocessing: preprocessingSchema.optional(),
  }),
  recipeName: z.string(),
  recipe: z.object({
    epochs: z.number(),
    batchSize: z.number(),
    lr: z.number(),
    schedule: z.discriminatedUnion('type', [
      z.object({ type: z.literal('step'), milestones: z.array(z.number()), gamma: z.number() }),
      z.object({ type: z.literal('cosine'), minLr: z.number().optional() }),
      z.object({ type: z.literal('constant') }),
    ]),
    warmupEpochs: z.number(),
    momentum: z.number(),
    dampening: z.number(),
    nesterov: z.boolean(),
    weightDecay: z.number(),
    noBnDecay: z.boolean().optional(),
    labelSmoothing: z.number(),
    augment: z.enum(['cifar', 'imagenet', 'none']),
    cutout: z.number().optional(),
    mixup: z.number().optional(),
    cutmix: z.number().optional(),
    cutmixBeta: z.number().optional(),
    freeze: z.enum(['none', 'body', 'all-but-last-stage']).optional(),
    headLrMultiplier: z.number().optional(),
  }),
  seed: z.number(),
  evalEvery: z.number(),
  checkpointEvery: z.number(),
  init: z.object({ source: z.string(), reinitialised: z.array(z.string()), skipped: z.array(z.string()) }).optional(),
});

/**
 * Throws a ConfigError naming the first thing in `config` that cannot train: the recipe, the
 * seed, the evaluation and checkpoint intervals, an impossible architecture, or data that does not
 * fit the model. `source` names where the configuration came from (e.g. a run.json).
 */
export function validateRunConfig(config: RunConfig, source = 'the run configuration', name: SettingNames = keyNames): void {
  if (config?.format !== RUN_FORMAT) throw new ConfigError(`${source} is not a PyramidNet-TS run (format ${JSON.stringify(config?.format)})`);
  const checked = runConfigSchema.safeParse(config);
  if (!checked.success) throw new ConfigError(`${source}: ${firstIssue(checked.error)}`);
  validateRecipe(config.recipe, name);
  assertSeed(config.seed, name('seed'));
  if (!isCount(config.evalEvery, 1)) throw new ConfigError(`${name('evalEvery')} must be a positive integer, got ${config.evalEvery}`);
  if (!isCount(config.checkpointEvery, 0)) throw new ConfigError(`${name('checkpointEvery')} must be a non-negative integer (0: at epoch ends), got ${config.checkpointEvery}`);
  const architecture = resolveArchitecture(config.architecture);
  const { data } = config;
  if (!isCount(data.trainImages, 1)) throw new ConfigError(`data.trainImages must be a positive integer, got ${data.trainImages}`);
  if (!isCount(data.testImages, 0)) throw new ConfigError(`data.testImages must be a non-negative integer, got ${data.testImages}`);
  if (data.classNames.length !== architecture.classes) throw new ConfigError(`the model has ${architecture.classes} classes but ${data.name} has ${data.classNames.length}`);
  const channels = architecture.input.channels;
  if (data.normalization.mean.length !== channels || data.normalization.std.length !== channels) {
    throw new ConfigError(`data.normalization has ${data.normalization.mean.length} means and ${data.normalization.std.length} deviations for ${channels}-channel images`);
  }
  if (config.recipe.batchSize > data.trainImages) throw new ConfigError(`${name('batchSize')} ${config.recipe.batchSize} is larger than the ${data.trainImages} training images`);
}

export interface RunConfigOptions {
  /** The preset the architecture came from, if any. */
  preset?: string | null;
  architecture: ArchitectureConfig;
  data: RunData;
  recipeName: string;
  recipe: Recipe;
  /** Default 0. */
  seed?: number;
  /** Default 1. */
  evalEvery?: number;
  /** Default 0. */
  checkpointEvery?: number;
}

/**
 * A run configuration from its parts, refused with a one-line ConfigError when it cannot train
 * (see `validateRunConfig`); `name` says how errors name settings.
 */
export function createRunConfig(options: RunConfigOptions, name: SettingNames = keyNames): RunConfig {
  const config: RunConfig = {
    format: RUN_FORMAT,
    version: 1,
    preset: options.preset ?? null,
    architecture: architectureConfig(resolveArchitecture(options.architecture)),
    data: options.data,
    recipeName: options.recipeName,
    recipe: options.recipe,
    seed: options.seed ?? 0,
    evalEvery: options.evalEvery ?? 1,
    checkpointEvery: options.checkpointEvery ?? 0,
  };
  validateRunConfig(config, 'the run configuration', name);
  return config;
}
