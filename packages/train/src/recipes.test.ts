import { describe, expect, it } from 'vitest';
import { RECIPES, defaultRecipeFor, findRecipe } from './recipes';

describe('the recipe a dataset gets when none is named', () => {
  it("is the paper's for CIFAR and ImageNet (Han et al. 2017, Sec. 4: lr 0.1, 0.5 and 0.05)", () => {
    const expected = { cifar10: [0.1, 300, 'cifar'], cifar100: [0.5, 300, 'cifar'], imagenet: [0.05, 120, 'imagenet'] } as const;
    for (const [dataset, [lr, epochs, augment]] of Object.entries(expected)) {
      const { recipe } = defaultRecipeFor(dataset);
      expect([recipe.lr, recipe.epochs, recipe.augment], dataset).toEqual([lr, epochs, augment]);
    }
  });

  it('is the quick recipe without augmentation for digits, clothes and image folders', () => {
    for (const dataset of ['mnist', 'fashion-mnist', '/data/my-photos']) {
      const { name, recipe } = defaultRecipeFor(dataset);
      expect([name, recipe.augment, recipe.epochs], dataset).toEqual(['quick', 'none', 2]);
    }
  });

  it('is the named recipe unchanged, so that runs recorded before keep their settings', () => {
    for (const dataset of ['cifar10', 'cifar100', 'imagenet', 'mnist', 'fashion-mnist']) {
      const { name, recipe } = defaultRecipeFor(dataset);
      expect(recipe, dataset).toEqual(RECIPES[name]);
    }
  });

  it('is a copy that the caller may change', () => {
    const { schedule } = defaultRecipeFor('cifar10').recipe;
    if (schedule.type === 'step') schedule.milestones.push(1);
    expect(findRecipe('paper-cifar10').schedule).toEqual({ type: 'step', milestones: [150, 225], gamma: 0.1 });
  });
});
