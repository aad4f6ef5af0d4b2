import { type Command, Option } from 'commander';
import { DATASET_NAMES, findDataset } from '@pyramid/core';
import { type ArchitectureConfig, PRESETS, type Preset, findPreset, findPresetFor, resolveArchitecture } from '@pyramid/pyramidnet';
import { UsageError } from './output';

/** The flags that define a model, the same on every command. */
export function addModelOptions(command: Command): Command {
  return command
    .option('--preset <name>', "a preset of the paper's configurations (see 'pyramid info --list')")
    .addOption(new Option('--dataset <name>', `layout, input size and class count: ${DATASET_NAMES.join(', ')}`))
    .option('--depth <n>', 'number of weighted layers', parseInteger('--depth', { min: 1 }))
    .option('--alpha <x>', 'widening factor alpha', parseNumber('--alpha', { above: 0 }))
    .option('--bottleneck', 'bottleneck units (3 convolutions, 4x expansion)')
    .addOption(new Option('--widening <rule>', 'widening schedule').choices(['additive', 'multiplicative']))
    .option('--classes <n>', 'number of classes (overrides the dataset default)', parseInteger('--classes', { min: 1 }))
    .option('--input <HxWxC>', 'input size, e.g. 32x32x3')
    .addOption(new Option('--design <name>', 'unit design of the paper\'s ablation').choices(['pyramid', 'preact', 'no-first-relu', 'last-bn']))
    .addOption(new Option('--shortcut <type>', 'shortcut type').choices(['zero-pad', 'projection']))
    .option('--shakedrop <pL>', 'ShakeDrop with the linear rule, p_L for the last unit (e.g. 0.5)', parseNumber('--shakedrop', { min: 0, max: 1 }))
    .addOption(new Option('--rounding <rule>', 'width rounding: half-even (PyTorch) or half-up (Lua)').choices(['half-even', 'half-up']));
}

/** Bounds of a numeric flag: `min` and `max` inclusive, `above` and `below` exclusive. */
export interface FlagRange {
  min?: number;
  max?: number;
  above?: number;
  below?: number;
}

function describeRange({ min, max, above, below }: FlagRange): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  const low = above !== undefined ? `greater than ${above}` : min !== undefined ? `at least ${min}` : null;
  const high = below !== undefined ? `less than ${below}` : max !== undefined ? `at most ${max}` : null;
  return [low, high].filter(Boolean).join(' and ');
}

function checkRange(flag: string, value: string, n: number, range: FlagRange, kind: string): number {
  const { min, max, above, below } = range;
  const outside = (min !== undefined && n < min) || (max !== undefined && n > max) || (above !== undefined && n <= above) || (below !== undefined && n >= below);
  if (outside) throw new UsageError(`${flag} must be ${kind} ${describeRange(range)}, got '${value}'`);
  return n;
}

export function parseInteger(flag: string, range: FlagRange = {}) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be an integer, got '${value}'`);
    return checkRange(flag, value, n, range, 'an integer');
  };
}

export function parseNumber(flag: string, range: FlagRange = {}) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got '${value}'`);
    return checkRange(flag, value, n, range, 'a number');
  };
}

export function parseInput(value: string): { height: number; width: number; channels: number } {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(value);
  if (!m) throw new UsageError(`--input must look like HxWxC (e.g. 32x32x3), got '${value}'`);
  return { height: Number(m[1]), width: Number(m[2]), channels: Number(m[3]) };
}

export interface ModelFlags {
  preset?: string;
  dataset?: string;
  depth?: number;
  alpha?: number;
  bottleneck?: boolean;
  widening?: 'additive' | 'multiplicative';
  classes?: number;
  input?: string;
  design?: ArchitectureConfig['design'];
  shortcut?: ArchitectureConfig['shortcut'];
  shakedrop?: number;
  rounding?: ArchitectureConfig['rounding'];
}

export interface ModelChoice {
  preset: Preset | null;
  architecture: ArchitectureConfig;
}

/** The model the flags describe: a preset (optionally overridden) or one built from flags. */
export function modelFromFlags(flags: ModelFlags, required = true): ModelChoice | null {
  let preset: Preset | null = null;
  let base: Partial<ArchitectureConfig> = {};
  if (flags.preset) {
    preset = findPreset(flags.preset);
    base = { ...preset.architecture };
  } else if (flags.dataset || flags.depth !== undefined || flags.alpha !== undefined) {
    if (!flags.dataset) throw new UsageError('--dataset is needed to build a model from flags (or give --preset)');
    const dataset = findDataset(flags.dataset);
    if (!dataset) throw new UsageError(`--dataset must be one of ${DATASET_NAMES.join(', ')}, got '${flags.dataset}'`);
    if (flags.depth === undefined || flags.alpha === undefined) throw new UsageError('--depth and --alpha are needed to build a model from flags (or give --preset)');
    base = { layout: dataset.layout, classes: dataset.classes, input: { ...dataset.shape } };
  } else {
    if (!required) return null;
    throw new UsageError("no model given: use --preset NAME (see 'pyramid info --list') or --dataset, --depth and --alpha");
  }
  const architecture: ArchitectureConfig = {
    ...(base as ArchitectureConfig),
    ...(flags.depth !== undefined ? { depth: flags.depth } : {}),
    ...(flags.alpha !== undefined ? { alpha: flags.alpha } : {}),
    ...(flags.bottleneck ? { unit: 'bottleneck' as const } : {}),
    ...(flags.widening ? { widening: flags.widening } : {}),
    ...(flags.classes !== undefined ? { classes: flags.classes } : {}),
    ...(flags.input ? { input: parseInput(flags.input) } : {}),
    ...(flags.design ? { design: flags.design } : {}),
    ...(flags.shortcut ? { shortcut: flags.shortcut } : {}),
    ...(flags.shakedrop !== undefined ? { shakeDrop: { lastKeep: flags.shakedrop } } : {}),
    ...(flags.rounding ? { rounding: flags.rounding } : {}),
  };
  resolveArchitecture(architecture); // fails early with the model's own error messages
  if (preset) {
    const changed = JSON.stringify(architecture) !== JSON.stringify(preset.architecture);
    return { preset: changed ? null : preset, architecture };
  }
  return { preset: findPresetFor(flags.dataset!, architecture), architecture };
}

export function presetTable(): string {
  const width = Math.max(...PRESETS.map((p) => p.name.length));
  return PRESETS.map((p) => `${p.name.padEnd(width)}  ${p.description}${p.paper ? '' : ' (not in the paper)'}`).join('\n');
}
