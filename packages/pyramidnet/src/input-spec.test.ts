import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultInputSpec } from './checkpoint';
import { PyramidNet } from './model';

beforeAll(async () => {
  await useBackend('cpu');
});

/** The default input description of a model built from `config`, with the model freed. */
function specOf(config: ConstructorParameters<typeof PyramidNet>[0], preset?: string) {
  const model = new PyramidNet(config);
  try {
    return defaultInputSpec(model, { preset });
  } finally {
    model.dispose();
  }
}

// Expected constants written out from their sources, not read from the dataset table.
describe('a checkpoint without a given normalisation', () => {
  it("normalises a one-channel model as MNIST: 0.1307 and 0.3081 of 0-1 pixels", () => {
    const { normalization } = specOf({ layout: 'cifar', depth: 8, alpha: 4, classes: 10, input: { height: 28, width: 28, channels: 1 } });
    expect(normalization.mean[0] / (normalization.scale === 1 ? 255 : 1)).toBeCloseTo(0.1307, 6);
    expect(normalization.std[0] / (normalization.scale === 1 ? 255 : 1)).toBeCloseTo(0.3081, 6);
  });

  it("normalises a CIFAR model with the reference code's constants on 0-255 pixels", () => {
    const { normalization } = specOf({ layout: 'cifar', depth: 8, alpha: 4, classes: 10 });
    expect(normalization).toEqual({ mean: [125.3, 123.0, 113.9], std: [63.0, 62.1, 66.7], scale: 1 });
  });

  it('normalises an ImageNet model with the usual ImageNet constants on 0-1 pixels', () => {
    const { normalization } = specOf({ layout: 'imagenet', depth: 18, alpha: 8, classes: 5, input: { height: 32, width: 32, channels: 3 } });
    expect(normalization).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 255 });
  });

  it("follows its preset's dataset: Fashion-MNIST's 0.2860 and 0.3530", () => {
    const { normalization } = specOf({ layout: 'cifar', depth: 20, alpha: 24, classes: 10, input: { height: 28, width: 28, channels: 1 } }, 'pyramidnet20-a24-fashion-mnist');
    expect(normalization.mean[0] / 255).toBeCloseTo(0.286, 6);
    expect(normalization.std[0] / 255).toBeCloseTo(0.353, 6);
  });

  it('leaves pixels of a channel count no dataset has at 0-1, one mean and std per channel', () => {
    const { normalization } = specOf({ layout: 'cifar', depth: 8, alpha: 4, classes: 2, input: { height: 8, width: 8, channels: 2 } });
    expect(normalization).toEqual({ mean: [0, 0], std: [1, 1], scale: 255 });
  });

  it('gives each caller its own copy', () => {
    const config = { layout: 'cifar' as const, depth: 8, alpha: 4, classes: 10 };
    specOf(config).normalization.mean[0] = -1;
    expect(specOf(config).normalization.mean[0]).toBe(125.3);
  });
});

describe('a checkpoint without a given preprocessing', () => {
  it("takes the paper's ImageNet evaluation, the shorter side 256 for a 224 crop, scaled with the input size", () => {
    // By hand: 256 * 224 / 224 = 256; 256 * 112 / 224 = 128.
    expect(specOf({ layout: 'imagenet', depth: 18, alpha: 8, classes: 5 }).preprocessing).toEqual({ kind: 'center-crop', resize: 256 });
    expect(specOf({ layout: 'imagenet', depth: 18, alpha: 8, classes: 5, input: { height: 112, width: 112, channels: 3 } }).preprocessing).toEqual({ kind: 'center-crop', resize: 128 });
  });

  it('centre-crops a CIFAR model at its own size', () => {
    expect(specOf({ layout: 'cifar', depth: 8, alpha: 4, classes: 10 }).preprocessing).toEqual({ kind: 'center-crop', resize: 32 });
  });
});
