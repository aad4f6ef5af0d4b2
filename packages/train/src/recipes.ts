import { ConfigError } from '@pyramid/core';
import type { LrSchedule } from './schedule';

/** Everything about how to train, apart from the model and the data. */
export interface Recipe {
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: LrSchedule;
  warmupEpochs: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** Exempt BN scales and shifts from weight decay (common in later work, not in the paper). */
  noBnDecay: boolean;
  labelSmoothing: number;
  /**
   * 'cifar': 4-pixel zero padding, random crop and flip (the paper's CIFAR augmentation);
   * 'imagenet': random-resized crop, flip, colour jitter 0.4 and PCA lighting 0.1 (image files).
   */
  augment: 'cifar' | 'imagenet' | 'none';
}

/**
 * Han et al. 2017, Sec. 4: SGD with Nesterov momentum 0.9 (dampening 0), weight decay 1e-4,
 * batch 128, 300 epochs, learning rate 0.1 (CIFAR-10) or 0.5 (CIFAR-100) divided by 10 at
 * epochs 150 and 225; ImageNet: lr 0.05 for 120 epochs, divided by 10 at 60, 90 and 105.
 */
const PAPER_CIFAR = {
  epochs: 300,
  batchSize: 128,
  schedule: { type: 'step', milestones: [150, 225], gamma: 0.1 },
  warmupEpochs: 0,
  momentum: 0.9,
  dampening: 0,
  nesterov: true,
  weightDecay: 1e-4,
  noBnDecay: false,
  labelSmoothing: 0,
  augment: 'cifar',
} as const satisfies Omit<Recipe, 'lr'>;

export const RECIPES: Readonly<Record<string, Recipe>> = {
  'paper-cifar10': { ...PAPER_CIFAR, lr: 0.1, schedule: { ...PAPER_CIFAR.schedule, milestones: [150, 225] } },
  'paper-cifar100': { ...PAPER_CIFAR, lr: 0.5, schedule: { ...PAPER_CIFAR.schedule, milestones: [150, 225] } },
  'paper-imagenet': {
    ...PAPER_CIFAR,
    epochs: 120,
    lr: 0.05,
    schedule: { type: 'step', milestones: [60, 90, 105], gamma: 0.1 },
    augment: 'imagenet',
  },
  // Ours: a few epochs on small data (the quick start), cosine decay from 0.1.
  quick: { ...PAPER_CIFAR, epochs: 2, batchSize: 64, lr: 0.1, schedule: { type: 'cosine' }, augment: 'none' },
};

export function findRecipe(name: string): Recipe {
  const recipe = RECIPES[name];
  if (!recipe) throw new ConfigError(`unknown recipe '${name}'; choose one of ${Object.keys(RECIPES).join(', ')}`);
  return structuredClone(recipe);
}

/** The recipe a dataset gets when none is named. */
export function defaultRecipeFor(dataset: string): string {
  if (dataset === 'cifar100') return 'paper-cifar100';
  if (dataset === 'cifar10') return 'paper-cifar10';
  if (dataset === 'imagenet') return 'paper-imagenet';
  return 'quick';
}
