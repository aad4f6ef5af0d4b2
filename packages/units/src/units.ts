import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@pyramid/core';
import { DEFAULT_UNIT_DESIGN, UNIT_DESIGNS, type UnitDesignName } from './designs';
import { BatchNorm2d, Conv2d, type ConvSpec, convBatchNorm } from './layers';
import { type ForwardContext, Module } from './module';
import { ShakeDrop, type ShakeDropGate } from './shakedrop';
import { Shortcut, type ShortcutType, hasProjection } from './shortcut';

export interface UnitOptions {
  /** Channels coming in. */
  inChannels: number;
  /** The unit's width D_k from the widening schedule (before the bottleneck's 4x expansion). */
  width: number;
  stride: 1 | 2;
  design?: UnitDesignName;
  shortcut?: ShortcutType;
  /** ShakeDrop on the residual branch, with this unit's probability p_l of keeping it unperturbed. */
  shakeDropKeep?: number;
  shakeDropGate?: ShakeDropGate;
}

/** One convolution of a unit, named as in the unit's state_dict. */
export interface UnitConvolution extends ConvSpec {
  name: 'conv1' | 'conv2' | 'conv3' | 'shortcut.conv';
  /** 'residual': reads the previous convolution's output; 'shortcut': reads the unit's input. */
  path: 'residual' | 'shortcut';
}

/**
 * The convolutions of a unit, in the order the unit creates them (the order of their initial
 * weight draws): the units build from this, and the model's geometry, summary and benchmarks read it.
 */
export function unitConvolutions(type: UnitType, options: Pick<UnitOptions, 'inChannels' | 'width' | 'stride' | 'shortcut'>): UnitConvolution[] {
  const { inChannels, width, stride } = options;
  const residual = (name: UnitConvolution['name'], inC: number, outC: number, kernelSize: number, s: number): UnitConvolution => ({
    name, path: 'residual', inChannels: inC, outChannels: outC, kernelSize, stride: s, padding: (kernelSize - 1) / 2,
  });
  const convs =
    type === 'basic'
      ? [residual('conv1', inChannels, width, 3, stride), residual('conv2', width, width, 3, 1)]
      : [residual('conv1', inChannels, width, 1, 1), residual('conv2', width, width, 3, stride), residual('conv3', width, width * UNIT_EXPANSION.bottleneck, 1, 1)];
  const outChannels = convs[convs.length - 1].outChannels;
  if (hasProjection(options.shortcut ?? 'zero-pad', inChannels, outChannels, stride)) {
    convs.push({ name: 'shortcut.conv', path: 'shortcut', inChannels, outChannels, kernelSize: 1, stride, padding: 0 });
  }
  return convs;
}

/** A pyramidal residual unit: what every unit type offers to the model assembly. */
export abstract class PyramidalUnit extends Module {
  abstract readonly inChannels: number;
  abstract readonly outChannels: number;
  abstract readonly stride: 1 | 2;
  abstract forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}

/** Residual branch output plus the shortcut, with ShakeDrop in between when enabled. */
function addShortcut(
  unit: { shortcut: Shortcut; shakeDrop?: ShakeDrop },
  residual: tf.Tensor4D,
  x: tf.Tensor4D,
  ctx: ForwardContext,
): tf.Tensor4D {
  const branch = unit.shakeDrop ? unit.shakeDrop.forward(residual, ctx) : residual;
  return unit.shortcut.addTo(branch, x, ctx);
}

/**
 * Basic pyramidal unit (paper Fig. 6(d)): BN, conv3x3(stride), BN, ReLU, conv3x3, BN, plus the
 * shortcut; no ReLU before the first convolution and none after the addition.
 */
export class BasicUnit extends PyramidalUnit {
  static readonly expansion = 1;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: 1 | 2;
  readonly firstRelu: boolean;
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn3?: BatchNorm2d;
  readonly shakeDrop?: ShakeDrop;
  readonly shortcut: Shortcut;

  constructor(options: UnitOptions, rng: Rng) {
    super();
    const { inChannels, width, stride } = options;
    const design = UNIT_DESIGNS[options.design ?? DEFAULT_UNIT_DESIGN];
    this.inChannels = inChannels;
    this.outChannels = width;
    this.stride = stride;
    this.firstRelu = design.firstRelu;
    const [conv1, conv2] = unitConvolutions('basic', options);
    this.bn1 = this.addChild('bn1', new BatchNorm2d(inChannels));
    this.conv1 = this.addChild('conv1', Conv2d.from(conv1, rng));
    this.bn2 = this.addChild('bn2', new BatchNorm2d(width));
    this.conv2 = this.addChild('conv2', Conv2d.from(conv2, rng));
    if (design.lastBn) this.bn3 = this.addChild('bn3', new BatchNorm2d(width));
    if (options.shakeDropKeep !== undefined) this.shakeDrop = new ShakeDrop(options.shakeDropKeep, options.shakeDropGate);
    this.shortcut = this.addChild('shortcut', new Shortcut(options.shortcut ?? 'zero-pad', inChannels, width, stride, rng));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let out = this.bn1.forward(x, ctx, this.firstRelu);
    out = convBatchNorm(this.conv1, this.bn2, out, ctx, true);
    out = this.bn3 ? convBatchNorm(this.conv2, this.bn3, out, ctx) : this.conv2.forward(out);
    return addShortcut(this, out, x, ctx);
  }
}

/**
 * Bottleneck pyramidal unit: BN, conv1x1, BN, ReLU, conv3x3(stride), BN, ReLU, conv1x1(4x), BN,
 * plus the shortcut. Its output has 4 * width channels.
 */
export class BottleneckUnit extends PyramidalUnit {
  static readonly expansion = 4;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: 1 | 2;
  readonly firstRelu: boolean;
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn4?: BatchNorm2d;
  readonly shakeDrop?: ShakeDrop;
  readonly shortcut: Shortcut;

  constructor(options: UnitOptions, rng: Rng) {
    super();
    const { inChannels, width, stride } = options;
    const design = UNIT_DESIGNS[options.design ?? DEFAULT_UNIT_DESIGN];
    const [conv1, conv2, conv3] = unitConvolutions('bottleneck', options);
    const { outChannels } = conv3;
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.stride = stride;
    this.firstRelu = design.firstRelu;
    this.bn1 = this.addChild('bn1', new BatchNorm2d(inChannels));
    this.conv1 = this.addChild('conv1', Conv2d.from(conv1, rng));
    this.bn2 = this.addChild('bn2', new BatchNorm2d(width));
    this.conv2 = this.addChild('conv2', Conv2d.from(conv2, rng));
    this.bn3 = this.addChild('bn3', new BatchNorm2d(width));
    this.conv3 = this.addChild('conv3', Conv2d.from(conv3, rng));
    if (design.lastBn) this.bn4 = this.addChild('bn4', new BatchNorm2d(outChannels));
    if (options.shakeDropKeep !== undefined) this.shakeDrop = new ShakeDrop(options.shakeDropKeep, options.shakeDropGate);
    this.shortcut = this.addChild('shortcut', new Shortcut(options.shortcut ?? 'zero-pad', inChannels, outChannels, stride, rng));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let out = this.bn1.forward(x, ctx, this.firstRelu);
    out = convBatchNorm(this.conv1, this.bn2, out, ctx, true);
    out = convBatchNorm(this.conv2, this.bn3, out, ctx, true);
    out = this.bn4 ? convBatchNorm(this.conv3, this.bn4, out, ctx) : this.conv3.forward(out);
    return addShortcut(this, out, x, ctx);
  }
}

export type UnitType = 'basic' | 'bottleneck';

export function createUnit(type: UnitType, options: UnitOptions, rng: Rng): PyramidalUnit {
  return type === 'basic' ? new BasicUnit(options, rng) : new BottleneckUnit(options, rng);
}

export const UNIT_EXPANSION: Record<UnitType, number> = { basic: BasicUnit.expansion, bottleneck: BottleneckUnit.expansion };
