import { describe, expect, it } from 'vitest';
import { resolveArchitecture } from './architecture';

describe('resolveArchitecture', () => {
  it('derives CIFAR stages from depth: (depth - 2) / 6 basic, (depth - 2) / 9 bottleneck', () => {
    expect(resolveArchitecture({ layout: 'cifar', depth: 110, alpha: 48, classes: 10 }).stageUnits).toEqual([18, 18, 18]);
    expect(resolveArchitecture({ layout: 'cifar', depth: 272, alpha: 200, classes: 10, unit: 'bottleneck' }).stageUnits).toEqual([30, 30, 30]);
  });

  it('uses the ResNet stage table for ImageNet and splits other depths evenly', () => {
    expect(resolveArchitecture({ layout: 'imagenet', depth: 200, alpha: 300, classes: 1000 }).stageUnits).toEqual([3, 24, 36, 3]);
    const basic = resolveArchitecture({ layout: 'imagenet', depth: 34, alpha: 100, classes: 1000 });
    expect([basic.unit, basic.stageUnits]).toEqual(['basic', [3, 4, 6, 3]]);
    // (26 - 2) / 12 = 2 bottleneck units per stage, as the reference derives unlisted depths.
    expect(resolveArchitecture({ layout: 'imagenet', depth: 26, alpha: 8, classes: 10, unit: 'bottleneck' }).stageUnits).toEqual([2, 2, 2, 2]);
  });

  it('widens to 16 + alpha (CIFAR) and 64 + alpha (ImageNet) at the last unit', () => {
    expect(resolveArchitecture({ layout: 'cifar', depth: 110, alpha: 48, classes: 10 }).featureChannels).toBe(64);
    // Bottleneck: 4 * (64 + 300) = 1456 channels into the head.
    expect(resolveArchitecture({ layout: 'imagenet', depth: 200, alpha: 300, classes: 1000 }).featureChannels).toBe(1456);
  });

  it('names what is wrong with an impossible model', () => {
    expect(() => resolveArchitecture({ layout: 'cifar', depth: 21, alpha: 48, classes: 10 })).toThrow(
      'depth 21 is impossible for a CIFAR PyramidNet with basic units: depth - 2 must be a positive multiple of 6',
    );
    expect(() => resolveArchitecture({ layout: 'cifar', depth: 104, alpha: 48, classes: 10, unit: 'bottleneck' })).toThrow(/multiple of 9/);
    expect(() => resolveArchitecture({ layout: 'cifar', depth: 110, alpha: -4, classes: 10 })).toThrow('alpha must be a positive number, got -4');
    expect(() => resolveArchitecture({ layout: 'cifar', depth: 110, alpha: 48, classes: 0 })).toThrow('classes must be a positive integer, got 0');
    expect(() => resolveArchitecture({ layout: 'imagenet', depth: 50, alpha: 48, classes: 10, unit: 'basic' })).toThrow(/uses bottleneck units/);
    expect(() => resolveArchitecture({ layout: 'cifar', depth: 20, alpha: 48, classes: 10, design: 'fancy' as never })).toThrow(/unknown unit design 'fancy'/);
  });
});
