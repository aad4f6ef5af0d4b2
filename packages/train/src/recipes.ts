import { ConfigError, IMAGE_FOLDER_DEFAULTS, findDataset } from '@pyramid/core';
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
  /** Cutout (DeVries & Taylor 2017) square side in pixels; 0: off. Their CIFAR-10 value is 16, CIFAR-100 8. */
  cutout: number;
  /** mixup (Zhang et al. 2018) alpha of Beta(alpha, alpha); 0: off. */
  mixup: number;
  /** CutMix (Yun et al. 2019): probability per batch; 0: off. */
  cutmix: number;
  /** CutMix: beta of Beta(beta, beta) for the kept share. */
  cutmixBeta: number;
  /**
   * Fine-tuning: parameters left out of the updates. 'body': all but the classifier;
   * 'all-but-last-stage': the stem and every stage but the last. BN running statistics still
   * follow the data, as in PyTorch with requires_grad off. Absent: none.
   */
  freeze?: 'none' | 'body' | 'all-but-last-stage';
  /** Fine-tuning: the classifier's learning rate as a multiple of the schedule's (PyTorch: its own param group). Absent: 1. */
  headLrMultiplier?: number;
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
  cutout: 0,
  mixup: 0,
  cutmix: 0,
  cutmixBeta: 1,
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
  // Yun et al. 2019 (CutMix), their CIFAR-100 PyramidNet-200 alpha 240 run (README of
  // clovaai/CutMix-PyTorch): the paper's schedule with batch 64, lr 0.25, CutMix on half the batches.
  'cutmix-cifar100': { ...PAPER_CIFAR, batchSize: 64, lr: 0.25, cutmix: 0.5, cutmixBeta: 1 },
  // Ours: a few epochs on small data (the quick start), cosine decay from 0.1.
  quick: { ...PAPER_CIFAR, epochs: 2, batchSize: 64, lr: 0.1, schedule: { type: 'cosine' }, augment: 'none' },
};

export function findRecipe(name: string): Recipe {
  const recipe = RECIPES[name];
  if (!recipe) throw new ConfigError(`unknown recipe '${name}'; choose one of ${Object.keys(RECIPES).join(', ')}`);
  return structuredClone(recipe);
}

/** The recipe a dataset gets when none is named: its table entry's, with the entry's augmentation. */
export function defaultRecipeFor(dataset: string): { name: string; recipe: Recipe } {
  const { recipe: name, augment } = findDataset(dataset) ?? IMAGE_FOLDER_DEFAULTS;
  return { name, recipe: { ...findRecipe(name), augment } };
}
