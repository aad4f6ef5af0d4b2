import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PyramidNet } from './model';
import { formatSummary, summarize } from './summary';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('summarize', () => {
  const model = () => new PyramidNet({ layout: 'cifar', depth: 8, alpha: 12, classes: 10 });

  it('counts multiply-accumulates per image', () => {
    // By hand, 32x32 input, widths 20, 24, 28:
    // stem 32*32*9*3*16 = 442,368; unit 1 (32x32) 9*16*20*1024 + 9*20*20*1024 = 6,635,520;
    // unit 2 (16x16) 9*20*24*256 + 9*24*24*256 = 2,433,024; unit 3 (8x8) 9*24*28*64 + 9*28*28*64 = 838,656;
    // fc 28*10 = 280. Total 10,349,848.
    expect(summarize(model()).macs).toBe(10_349_848);
  });

  it('lists output shapes and parameters per layer', () => {
    // Parameters by hand: stem conv 432 + BN 32; units 6,592, 9,640 and 13,264; head BN 56, fc 290.
    const rows = summarize(model()).rows.map((r) => [r.name, r.outputShape.join('x'), r.params]);
    expect(rows).toEqual([
      ['conv1', '32x32x16', 432],
      ['bn1', '32x32x16', 32],
      ['layer1.0', '32x32x20', 6592],
      ['layer2.0', '16x16x24', 9640],
      ['layer3.0', '8x8x28', 13264],
      ['bn_final', '8x8x28', 56],
      ['avgpool', '28', 0],
      ['fc', '10', 290],
    ]);
    expect(summarize(model()).params).toBe(30_306);
  });

  it('rounds odd sizes up at each downsampling, as the ceil-mode shortcut does', () => {
    const odd = new PyramidNet({ layout: 'imagenet', depth: 14, alpha: 16, classes: 7, input: { height: 35, width: 35, channels: 3 } });
    // 35 -> conv7x7/2: 18 -> maxpool3x3/2: 9 -> 9, 5, 3, 2.
    expect(summarize(odd).rows.filter((r) => r.name.startsWith('layer')).map((r) => r.outputShape[0])).toEqual([9, 5, 3, 2]);
  });

  it('formats a table with both parameter conventions', () => {
    const text = formatSummary(summarize(model()));
    expect(text).toContain('parameters            30,306');
    expect(text).toContain('without BN (paper)');
  });
});
