import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveArchitecture } from './architecture';
import { batchNormParameterNames } from './batch-norms';
import { modelGeometry } from './geometry';
import { PyramidNet } from './model';

beforeAll(async () => {
  await useBackend('cpu');
});

const row = (c: { name: string; input: number[]; output: number[]; inChannels: number; outChannels: number; kernelSize: number; stride: number }) =>
  `${c.name} ${c.input.join('x')}->${c.output.join('x')} ${c.inChannels}->${c.outChannels} k${c.kernelSize}/${c.stride}`;

describe('the model geometry', () => {
  it('lays out a CIFAR PyramidNet-8 as worked out by hand', () => {
    // alpha 12 over 3 units: widths 16 + 4k = 20, 24, 28; stages 2 and 3 halve 32 to 16 to 8 in
    // their first 3x3 convolution (pad 1: floor((32 + 2 - 3) / 2) + 1 = 16).
    const geometry = modelGeometry(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 12, classes: 10 }));
    expect(geometry.convs.map(row)).toEqual([
      'conv1 32x32->32x32 3->16 k3/1',
      'layer1.0.conv1 32x32->32x32 16->20 k3/1',
      'layer1.0.conv2 32x32->32x32 20->20 k3/1',
      'layer2.0.conv1 32x32->16x16 20->24 k3/2',
      'layer2.0.conv2 16x16->16x16 24->24 k3/1',
      'layer3.0.conv1 16x16->8x8 24->28 k3/2',
      'layer3.0.conv2 8x8->8x8 28->28 k3/1',
    ]);
    expect(geometry.stem.maxPool).toBeNull();
    expect(geometry.head.bn).toEqual({ name: 'bn_final', channels: 28, output: [8, 8] });
    expect(geometry.head.fc).toEqual({ name: 'fc', inFeatures: 28, outFeatures: 10, macs: 280 });
  });

  it('lays out an ImageNet bottleneck model on an odd input, with projection shortcuts reading the unit input', () => {
    // 35 -> conv 7x7/2 pad 3: floor((35 + 6 - 7) / 2) + 1 = 18 -> max-pool 3x3/2 pad 1: 9.
    // depth 14 with bottlenecks: (14 - 2) / 12 = 1 unit per stage; alpha 16 over 4 units: widths
    // 64 + 4k = 68, 72, 76, 80, expanded to 272, 288, 304, 320.
    const geometry = modelGeometry(resolveArchitecture({ layout: 'imagenet', depth: 14, alpha: 16, classes: 7, shortcut: 'projection', input: { height: 35, width: 35, channels: 3 } }));
    expect(geometry.stem.maxPool?.output).toEqual([9, 9]);
    const second = geometry.stages[1][0];
    expect(second.convs.map(row)).toEqual([
      'layer2.0.conv1 9x9->9x9 272->72 k1/1',
      'layer2.0.conv2 9x9->5x5 72->72 k3/2',
      'layer2.0.conv3 5x5->5x5 72->288 k1/1',
      'layer2.0.shortcut.conv 9x9->5x5 272->288 k1/2',
    ]);
    expect(geometry.stages.map((s) => s[0].output[0])).toEqual([9, 5, 3, 2]);
    expect(geometry.stages.map((s) => s[0].outChannels)).toEqual([272, 288, 304, 320]);
  });

  it("names each convolution as the model's state_dict does, with the shape of its kernel", () => {
    const model = new PyramidNet({ layout: 'cifar', depth: 11, alpha: 8, unit: 'bottleneck', classes: 3, shortcut: 'projection' });
    const kernels = new Map(model.namedTensors().filter((t) => t.name.endsWith('conv.weight') || /conv\d\.weight$/.test(t.name)).map((t) => [t.name, t.variable.shape]));
    expect(new Map(model.geometry.convs.map((c) => [`${c.name}.weight`, [c.kernelSize, c.kernelSize, c.inChannels, c.outChannels]]))).toEqual(kernels);
    model.dispose();
  });

  it("counts multiply-accumulates as output pixels times kernel area times input and output channels", () => {
    // Stem of the CIFAR PyramidNet-8: 32 * 32 * 3 * 3 * 3 * 16.
    const geometry = modelGeometry(resolveArchitecture({ layout: 'cifar', depth: 8, alpha: 12, classes: 10 }));
    expect(geometry.stem.conv.macs).toBe(442_368);
    expect(geometry.macs).toBe(geometry.convs.reduce((n, c) => n + c.macs, 0) + 280);
  });
});

describe('batch-norm parameters', () => {
  it("are every BN's weight and bias, the shortcut's BN included, and nothing else", () => {
    const model = new PyramidNet({ layout: 'cifar', depth: 8, alpha: 12, classes: 10, shortcut: 'projection' });
    const unit = (p: string) => [`${p}.bn1`, `${p}.bn2`, `${p}.bn3`];
    const expected = ['bn1', ...unit('layer1.0'), `layer1.0.shortcut.bn`, ...unit('layer2.0'), 'layer2.0.shortcut.bn', ...unit('layer3.0'), 'layer3.0.shortcut.bn', 'bn_final'].flatMap((bn) => [
      `${bn}.weight`,
      `${bn}.bias`,
    ]);
    expect([...batchNormParameterNames(model)].sort()).toEqual(expected.sort());
    model.dispose();
  });
});
