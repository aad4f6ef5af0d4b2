import { ConfigError, type ImageShape } from '@pyramid/core';
import { ARCHITECTURE_LIMITS } from './config-schema';
import {
  UNIT_DESIGNS,
  UNIT_EXPANSION,
  type ShortcutType,
  type UnitDesignName,
  type UnitType,
  type Widening,
  type WidthRounding,
  widths as wideningWidths,
} from '@pyramid/units';

/** Everything that defines a PyramidNet; what a checkpoint's config.json stores. */
export interface ArchitectureConfig {
  /** 'cifar': 3x3 stem and three stages; 'imagenet': 7x7 stem, max-pool and four stages. */
  layout: 'cifar' | 'imagenet';
  depth: number;
  /** Widening factor alpha (paper eqs. 2 and 3). */
  alpha: number;
  classes: number;
  /** Unit type; ImageNet depths of the ResNet table fix it (basic for 18 and 34, else bottleneck). */
  unit?: UnitType;
  widening?: Widening;
  rounding?: WidthRounding;
  design?: UnitDesignName;
  shortcut?: ShortcutType;
  /** ShakeDrop with the linear rule; `lastKeep` is p_L (0.5 in the ShakeDrop paper). */
  shakeDrop?: { lastKeep: number; gate?: 'batch' | 'image' } | null;
  /** Input image size; defaults to 32x32x3 (cifar) or 224x224x3 (imagenet). */
  input?: ImageShape;
}

/** An ArchitectureConfig with every default filled in and the per-unit widths derived. */
export interface Architecture extends Required<Omit<ArchitectureConfig, 'shakeDrop'>> {
  shakeDrop: { lastKeep: number; gate?: 'batch' | 'image' } | null;
  /** Channels after the stem: 16 (cifar) or 64 (imagenet). */
  stemWidth: number;
  /** Units per stage. */
  stageUnits: number[];
  /** Width D_k of every unit, before the bottleneck expansion. */
  unitWidths: number[];
  /** Channels entering the head (last unit's width times the expansion). */
  featureChannels: number;
}

/**
 * Stage counts of the ImageNet layout, the ResNet table the reference code uses; other depths
 * split evenly over four stages ((depth - 2) / 8 basic, (depth - 2) / 12 bottleneck units each).
 */
export const IMAGENET_STAGES: Readonly<Record<number, { unit: UnitType; stages: number[] }>> = {
  18: { unit: 'basic', stages: [2, 2, 2, 2] },
  34: { unit: 'basic', stages: [3, 4, 6, 3] },
  50: { unit: 'bottleneck', stages: [3, 4, 6, 3] },
  101: { unit: 'bottleneck', stages: [3, 4, 23, 3] },
  152: { unit: 'bottleneck', stages: [3, 8, 36, 3] },
  200: { unit: 'bottleneck', stages: [3, 24, 36, 3] },
};

/** Weighted layers per unit, for the depth arithmetic: 2 convolutions (basic) or 3 (bottleneck). */
const LAYERS_PER_UNIT: Record<UnitType, number> = { basic: 2, bottleneck: 3 };

function positiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`${what} must be a positive integer, got ${value}`);
}

function atMost(value: number, limit: number, what: string): void {
  if (value > limit) throw new ConfigError(`${what} must be at most ${limit}, got ${value}`);
}

function stagesFor(config: ArchitectureConfig): { unit: UnitType; stageUnits: number[] } {
  const { layout, depth } = config;
  if (layout === 'imagenet') {
    const known = IMAGENET_STAGES[depth];
    if (known) {
      if (config.unit && config.unit !== known.unit) {
        throw new ConfigError(`ImageNet PyramidNet-${depth} uses ${known.unit} units (the ResNet stage table); got unit '${config.unit}'`);
      }
      return { unit: known.unit, stageUnits: [...known.stages] };
    }
    const unit = config.unit ?? 'bottleneck';
    const perStage = (depth - 2) / (4 * LAYERS_PER_UNIT[unit]);
    if (!Number.isInteger(perStage) || perStage < 1) {
      throw new ConfigError(
        `depth ${depth} is impossible for an ImageNet PyramidNet with ${unit} units: depth - 2 must be a positive multiple of ${4 * LAYERS_PER_UNIT[unit]}, or one of ${Object.keys(IMAGENET_STAGES).join(', ')}`,
      );
    }
    return { unit, stageUnits: [perStage, perStage, perStage, perStage] };
  }
  const unit = config.unit ?? 'basic';
  // (depth - 2) / 6 basic or (depth - 2) / 9 bottleneck units per stage: the stem conv and the fc
  // are the two layers outside the units.
  const perStage = (depth - 2) / (3 * LAYERS_PER_UNIT[unit]);
  if (!Number.isInteger(perStage) || perStage < 1) {
    throw new ConfigError(
      `depth ${depth} is impossible for a CIFAR PyramidNet with ${unit} units: depth - 2 must be a positive multiple of ${3 * LAYERS_PER_UNIT[unit]}`,
    );
  }
  return { unit, stageUnits: [perStage, perStage, perStage] };
}

export function resolveArchitecture(config: ArchitectureConfig): Architecture {
  if (config.layout !== 'cifar' && config.layout !== 'imagenet') {
    throw new ConfigError(`layout must be 'cifar' or 'imagenet', got '${config.layout}'`);
  }
  positiveInteger(config.depth, 'depth');
  positiveInteger(config.classes, 'classes');
  if (!(typeof config.alpha === 'number' && config.alpha > 0 && Number.isFinite(config.alpha))) {
    throw new ConfigError(`alpha must be a positive number, got ${config.alpha}`);
  }
  atMost(config.depth, ARCHITECTURE_LIMITS.depth, 'depth');
  atMost(config.alpha, ARCHITECTURE_LIMITS.alpha, 'alpha');
  atMost(config.classes, ARCHITECTURE_LIMITS.classes, 'classes');
  const widening = config.widening ?? 'additive';
  if (widening !== 'additive' && widening !== 'multiplicative') {
    throw new ConfigError(`widening must be 'additive' or 'multiplicative', got '${widening}'`);
  }
  const design = config.design ?? 'pyramid';
  if (!(design in UNIT_DESIGNS)) {
    throw new ConfigError(`unknown unit design '${design}'; choose one of ${Object.keys(UNIT_DESIGNS).join(', ')}`);
  }
  const shortcut = config.shortcut ?? 'zero-pad';
  if (shortcut !== 'zero-pad' && shortcut !== 'projection') {
    throw new ConfigError(`shortcut must be 'zero-pad' or 'projection', got '${shortcut}'`);
  }
  const shakeDrop = config.shakeDrop ?? null;
  if (shakeDrop && !(shakeDrop.lastKeep >= 0 && shakeDrop.lastKeep <= 1)) {
    throw new ConfigError(`ShakeDrop lastKeep must be in [0, 1], got ${shakeDrop.lastKeep}`);
  }
  const rounding = config.rounding ?? 'half-even';
  const input = config.input ?? (config.layout === 'cifar' ? { height: 32, width: 32, channels: 3 } : { height: 224, width: 224, channels: 3 });
  positiveInteger(input.height, 'input height');
  positiveInteger(input.width, 'input width');
  positiveInteger(input.channels, 'input channels');
  atMost(input.height, ARCHITECTURE_LIMITS.imageSide, 'input height');
  atMost(input.width, ARCHITECTURE_LIMITS.imageSide, 'input width');
  atMost(input.channels, ARCHITECTURE_LIMITS.channels, 'input channels');

  const { unit, stageUnits } = stagesFor(config);
  const stemWidth = config.layout === 'cifar' ? 16 : 64;
  const totalUnits = stageUnits.reduce((a, b) => a + b, 0);
  const unitWidths = wideningWidths(widening, { start: stemWidth, alpha: config.alpha, units: totalUnits, rounding });
  return {
    layout: config.layout,
    depth: config.depth,
    alpha: config.alpha,
    classes: config.classes,
    unit,
    widening,
    rounding,
    design,
    shortcut,
    shakeDrop,
    input: { ...input },
    stemWidth,
    stageUnits,
    unitWidths,
    featureChannels: unitWidths[unitWidths.length - 1] * UNIT_EXPANSION[unit],
  };
}

/** The config a checkpoint stores: the user's choices with defaults made explicit. */
export function architectureConfig(arch: Architecture): Required<ArchitectureConfig> {
  const { layout, depth, alpha, classes, unit, widening, rounding, design, shortcut, shakeDrop, input } = arch;
  return { layout, depth, alpha, classes, unit, widening, rounding, design, shortcut, shakeDrop, input };
}
