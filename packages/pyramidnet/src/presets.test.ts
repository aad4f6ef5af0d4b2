import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PyramidNet } from './model';
import { PRESETS, findPreset, findPresetFor } from './presets';
import { summarize } from './summary';

/**
 * Parameter counts of the reference PyTorch implementation, written by
 * tools/reference/make_fixtures.py: it instantiates dyhan0920/PyramidNet-PyTorch's PyramidNet with
 * each configuration and sums p.numel(), and sums BN parameters separately.
 */
const reference = JSON.parse(readFileSync(fileURLToPath(new URL('../test/fixtures/param-counts.json', import.meta.url)), 'utf8')).counts as Record<
  string,
  { params: number; bnParams: number }
>;

beforeAll(async () => {
  await useBackend('cpu');
});

const paperPresets = PRESETS.filter((p) => p.paper !== null);

describe('presets', () => {
  it('cover every PyramidNet of the paper’s Tables 4 and 5', () => {
    // Table 4: seven configurations, each on CIFAR-10 and CIFAR-100; Table 5: two ImageNet models.
    expect(paperPresets.filter((p) => p.dataset !== 'imagenet')).toHaveLength(14);
    expect(paperPresets.filter((p) => p.dataset === 'imagenet')).toHaveLength(2);
  });

  it.each(paperPresets.map((p) => [p.name, p] as const))('%s has the reference implementation’s exact parameter count', (_, preset) => {
    const a = preset.architecture;
    const key = `${preset.dataset}-${a.depth}-a${a.alpha}-${a.unit ?? 'bottleneck'}`;
    const expected = reference[key];
    expect(expected, `no reference count for ${key}`).toBeDefined();
    const model = new PyramidNet(a);
    const summary = summarize(model);
    expect(summary.params).toBe(expected.params);
    expect(summary.bnParams).toBe(expected.bnParams);
    model.dispose();
  });

  it('reproduces the two counts quoted in the project brief', () => {
    // 1,772,706 (CIFAR-10 PyramidNet-110, alpha 48) and 26,210,842 (272, alpha 200, bottleneck).
    for (const [name, params] of [
      ['pyramidnet110-a48-cifar10', 1_772_706],
      ['pyramidnet272-a200-bottleneck-cifar10', 26_210_842],
    ] as const) {
      const model = new PyramidNet(findPreset(name).architecture);
      expect(model.parameterCount()).toBe(params);
      model.dispose();
    }
  });

  it('print the paper’s rounded count as the count without BN', () => {
    // Paper: 26.0M for 272/200 (Table 4), 62.1M and 116.4M for ImageNet 200/300 and 200/450 (Table 5).
    for (const [name, printed] of [
      ['pyramidnet272-a200-bottleneck-cifar10', '26.0'],
      ['pyramidnet200-a300-imagenet', '62.1'],
      ['pyramidnet200-a450-imagenet', '116.4'],
    ] as const) {
      const model = new PyramidNet(findPreset(name).architecture);
      expect((summarize(model).paperParams / 1e6).toFixed(1)).toBe(printed);
      model.dispose();
    }
  });

  it('are recognised from their (dataset, depth, alpha, unit, widening)', () => {
    expect(findPresetFor('cifar100', { layout: 'cifar', depth: 272, alpha: 200, unit: 'bottleneck', classes: 100 })?.name).toBe('pyramidnet272-a200-bottleneck-cifar100');
    expect(findPresetFor('imagenet', { layout: 'imagenet', depth: 200, alpha: 300, classes: 1000 })?.name).toBe('pyramidnet200-a300-imagenet');
    expect(findPresetFor('cifar10', { layout: 'cifar', depth: 110, alpha: 48, classes: 10, widening: 'multiplicative' })).toBeNull();
  });

  it('reject unknown names with suggestions', () => {
    expect(() => findPreset('pyramidnet110')).toThrow(/unknown preset 'pyramidnet110'; did you mean pyramidnet110-a48-cifar10/);
    // Typos: a letter missing, two swapped, one wrong; the suggestion is the one meant, first.
    expect(() => findPreset('pyramdnet110-a48-cifar10')).toThrow(/did you mean pyramidnet110-a48-cifar10[,?]/);
    expect(() => findPreset('pyramidnte272-a200-bottleneck-cifar10')).toThrow(/did you mean pyramidnet272-a200-bottleneck-cifar10[,?]/);
    expect(() => findPreset('pyramidnet110-a48-cifar11')).toThrow(/did you mean pyramidnet110-a48-cifar10[,?]/);
    expect(() => findPreset('resnet50')).toThrow(/^unknown preset 'resnet50' \(see 'pyramid info --list'\)$/);
  });
});
