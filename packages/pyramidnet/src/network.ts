import type { BatchNormLayer, ConvolutionLayer, NetworkDescription, NetworkState, ResidualUnitDescription, SequenceLayer } from '@pyramid/core';
import { BasicUnit, type BatchNorm2d, type BottleneckUnit, type Conv2d, type PyramidalUnit } from '@pyramid/units';
import type { PyramidNet } from './model';

function conv(prefix: string, c: Conv2d): ConvolutionLayer {
  return { op: 'conv', weight: `${prefix}weight`, inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: c.kernelSize, stride: c.stride, padding: c.padding };
}

function batchNorm(prefix: string, bn: BatchNorm2d, relu: boolean): BatchNormLayer {
  return {
    op: 'batch-norm', weight: `${prefix}weight`, bias: `${prefix}bias`, runningMean: `${prefix}running_mean`, runningVar: `${prefix}running_var`,
    channels: bn.channels, epsilon: bn.epsilon, momentum: bn.momentum, relu,
  };
}

/** A unit's residual branch in the order its forward pass runs it (units.ts). */
function branch(prefix: string, unit: PyramidalUnit): SequenceLayer[] {
  const layers: SequenceLayer[] = [];
  if (unit instanceof BasicUnit) {
    layers.push(batchNorm(`${prefix}bn1.`, unit.bn1, unit.firstRelu), conv(`${prefix}conv1.`, unit.conv1), batchNorm(`${prefix}bn2.`, unit.bn2, true), conv(`${prefix}conv2.`, unit.conv2));
    if (unit.bn3) layers.push(batchNorm(`${prefix}bn3.`, unit.bn3, false));
    return layers;
  }
  const u = unit as BottleneckUnit;
  layers.push(
    batchNorm(`${prefix}bn1.`, u.bn1, u.firstRelu), conv(`${prefix}conv1.`, u.conv1),
    batchNorm(`${prefix}bn2.`, u.bn2, true), conv(`${prefix}conv2.`, u.conv2),
    batchNorm(`${prefix}bn3.`, u.bn3, true), conv(`${prefix}conv3.`, u.conv3),
  );
  if (u.bn4) layers.push(batchNorm(`${prefix}bn4.`, u.bn4, false));
  return layers;
}

/** The model as data for backends that compile whole training steps (core's NetworkDescription). */
export function describeNetwork(model: PyramidNet): NetworkDescription {
  const { maxPool } = model.geometry.stem;
  const units: ResidualUnitDescription[] = model.stages.flatMap((stage, s) =>
    stage.items.map((unit, i) => {
      const prefix = `layer${s + 1}.${i}.`;
      const { shortcut: sc, shakeDrop } = unit as BasicUnit | BottleneckUnit;
      const shortcut = sc.conv
        ? ({ kind: 'projection' } as const)
        : ({ kind: 'zero-pad', stride: unit.stride, inChannels: unit.inChannels, outChannels: unit.outChannels } as const);
      return { branch: branch(prefix, unit), shortcut, shakeDrop: Boolean(shakeDrop) };
    }),
  );
  return {
    input: { ...model.architecture.input },
    classes: model.architecture.classes,
    stem: { layers: [conv('conv1.', model.conv1), batchNorm('bn1.', model.bn1, maxPool !== null)], maxPool: maxPool !== null },
    units,
    head: {
      batchNorm: batchNorm('bn_final.', model.bnFinal, true),
      fc: { weight: 'fc.weight', bias: 'fc.bias', inFeatures: model.fc.inFeatures, outFeatures: model.fc.outFeatures },
    },
  };
}

/** The model's parameters and buffers by state_dict name, as compiled steps and inference load them. */
export async function readNetworkState(model: PyramidNet): Promise<Pick<NetworkState, 'parameters' | 'buffers'>> {
  const parameters: Record<string, Float32Array> = {};
  const buffers: Record<string, Float32Array> = {};
  for (const t of model.namedTensors()) (t.kind === 'parameter' ? parameters : buffers)[t.name] = (await t.variable.data()) as Float32Array;
  return { parameters, buffers };
}
