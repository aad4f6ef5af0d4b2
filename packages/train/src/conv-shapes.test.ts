import { useBackend } from '@pyramid/core';
import { PyramidNet } from '@pyramid/pyramidnet';
import { beforeAll, describe, expect, it } from 'vitest';
import { convShapes } from './bench';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('convShapes', () => {
  it('lists each distinct convolution of a model once, in order of first use, with its input size', () => {
    // CIFAR PyramidNet-14, alpha 12: two basic units per stage, widths 18, 20 | 22, 24 | 26, 28.
    // Worked out by hand: the second unit of each stage repeats its first unit's second shape.
    const model = new PyramidNet({ layout: 'cifar', depth: 14, alpha: 12, classes: 10 });
    const shapes = convShapes(model, 4).map((s) => `${s.height}x${s.width} ${s.inChannels}->${s.outChannels} k${s.kernel}/${s.stride} p${s.pad}`);
    expect(shapes).toEqual([
      '32x32 3->16 k3/1 p1',
      '32x32 16->18 k3/1 p1',
      '32x32 18->18 k3/1 p1',
      '32x32 18->20 k3/1 p1',
      '32x32 20->20 k3/1 p1',
      '32x32 20->22 k3/2 p1',
      '16x16 22->22 k3/1 p1',
      '16x16 22->24 k3/1 p1',
      '16x16 24->24 k3/1 p1',
      '16x16 24->26 k3/2 p1',
      '8x8 26->26 k3/1 p1',
      '8x8 26->28 k3/1 p1',
      '8x8 28->28 k3/1 p1',
    ]);
    expect(convShapes(model, 4).every((s) => s.batch === 4)).toBe(true);
    model.dispose();
  });
});
