import { ConfigError, DATASETS, type DatasetName } from '@pyramid/core';
import { type ArchitectureConfig, architectureConfig, resolveArchitecture } from './architecture';

/** What the paper reports for a configuration (top-1 / top-5 error in percent, mean ± std). */
export interface PaperResult {
  /** Where the figure is printed, e.g. 'Table 4'. */
  source: string;
  /** The paper's parameter count as printed (BN parameters excluded). */
  params: string;
  top1Error?: string;
  top5Error?: string;
  /** Evaluation crop for ImageNet results. */
  crop?: number;
}

export interface Preset {
  name: string;
  dataset: DatasetName;
  description: string;
  architecture: ArchitectureConfig;
  /** The paper's figures, or null for presets that are ours (small models for demos and tests). */
  paper: PaperResult[] | null;
}

type Table4Row = [depth: number, alpha: number, unit: 'basic' | 'bottleneck', params: string, cifar10: string, cifar100: string];

// Han, Kim & Kim (CVPR 2017), Table 4: top-1 error (%) on CIFAR, mean ± std over runs.
const TABLE_4: Table4Row[] = [
  [110, 48, 'basic', '1.7M', '4.58±0.06', '23.12±0.04'],
  [110, 84, 'basic', '3.8M', '4.26±0.23', '20.66±0.40'],
  [110, 270, 'basic', '28.3M', '3.73±0.04', '18.25±0.10'],
  [164, 270, 'bottleneck', '27.0M', '3.48±0.20', '17.01±0.39'],
  [200, 240, 'bottleneck', '26.6M', '3.44±0.11', '16.51±0.13'],
  [236, 220, 'bottleneck', '26.8M', '3.40±0.07', '16.37±0.29'],
  [272, 200, 'bottleneck', '26.0M', '3.31±0.08', '16.35±0.24'],
];

function cifarPresets(): Preset[] {
  const out: Preset[] = [];
  for (const dataset of ['cifar10', 'cifar100'] as const) {
    for (const [depth, alpha, unit, params, e10, e100] of TABLE_4) {
      out.push({
        name: `pyramidnet${depth}-a${alpha}${unit === 'bottleneck' ? '-bottleneck' : ''}-${dataset}`,
        dataset,
        description: `PyramidNet-${depth} (${unit}, alpha=${alpha}) for ${DATASETS[dataset].title}`,
        architecture: { layout: 'cifar', depth, alpha, unit, classes: DATASETS[dataset].classes },
        paper: [{ source: 'Table 4', params, top1Error: dataset === 'cifar10' ? e10 : e100 }],
      });
    }
  }
  return out;
}

// Table 5: ImageNet-1k validation error, single crop.
const IMAGENET: Preset[] = [
  {
    name: 'pyramidnet200-a300-imagenet',
    dataset: 'imagenet',
    description: 'PyramidNet-200 (bottleneck, alpha=300) for ImageNet',
    architecture: { layout: 'imagenet', depth: 200, alpha: 300, classes: DATASETS.imagenet.classes },
    paper: [
      { source: 'Table 5', params: '62.1M', top1Error: '20.5', top5Error: '5.3', crop: 224 },
      { source: 'Table 5', params: '62.1M', top1Error: '19.6', top5Error: '4.8', crop: 320 },
    ],
  },
  {
    name: 'pyramidnet200-a450-imagenet',
    dataset: 'imagenet',
    description: 'PyramidNet-200 (bottleneck, alpha=450) for ImageNet',
    architecture: { layout: 'imagenet', depth: 200, alpha: 450, classes: DATASETS.imagenet.classes },
    paper: [
      { source: 'Table 5', params: '116.4M', top1Error: '20.1', top5Error: '5.4', crop: 224 },
      { source: 'Table 5', params: '116.4M', top1Error: '19.2', top5Error: '4.7', crop: 320 },
    ],
  },
];

// Small models of ours, for demos, the quick start and tests; not in the paper.
const SMALL: Preset[] = [
  {
    name: 'pyramidnet20-a48-cifar10',
    dataset: 'cifar10',
    description: 'PyramidNet-20 (basic, alpha=48) for CIFAR-10: a small model for quick runs',
    architecture: { layout: 'cifar', depth: 20, alpha: 48, classes: DATASETS.cifar10.classes },
    paper: null,
  },
  {
    name: 'pyramidnet8-a16-mnist',
    dataset: 'mnist',
    description: 'PyramidNet-8 (basic, alpha=16) for 28x28 grey digits: the quick-start model',
    architecture: { layout: 'cifar', depth: 8, alpha: 16, classes: DATASETS.mnist.classes, input: { ...DATASETS.mnist.shape } },
    paper: null,
  },
  {
    name: 'pyramidnet20-a24-fashion-mnist',
    dataset: 'fashion-mnist',
    description: 'PyramidNet-20 (basic, alpha=24) for Fashion-MNIST',
    architecture: { layout: 'cifar', depth: 20, alpha: 24, classes: DATASETS['fashion-mnist'].classes, input: { ...DATASETS['fashion-mnist'].shape } },
    paper: null,
  },
];

/** Every preset: the paper's configurations (Tables 4 and 5), then small ones of ours. */
export const PRESETS: readonly Preset[] = [...cifarPresets(), ...IMAGENET, ...SMALL];

export function presetNames(): string[] {
  return PRESETS.map((p) => p.name);
}

/**
 * The preset with this (dataset, depth, alpha, unit, widening), or null: a model given by flags
 * is recognised as the paper's configuration it is.
 */
export function findPresetFor(dataset: string, architecture: ArchitectureConfig): Preset | null {
  const key = (a: ArchitectureConfig) => JSON.stringify(architectureConfig(resolveArchitecture(a)));
  const wanted = key(architecture);
  return PRESETS.find((p) => p.dataset === dataset && key(p.architecture) === wanted) ?? null;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

/**
 * Presets a mistyped name probably meant: the closest by edit distance (a typo or two, not a
 * different model), then those containing it, then those of the same depth.
 */
export function similarPresetNames(name: string, limit = 5): string[] {
  const typed = name.toLowerCase();
  const containing = PRESETS.filter((p) => typed.length >= 3 && p.name.includes(typed)).map((p) => p.name);
  const family = PRESETS.filter((p) => p.name.split('-')[0] === typed.split('-')[0]).map((p) => p.name);
  const tolerance = Math.max(2, Math.floor(typed.length / 6));
  const close = PRESETS.map((p) => ({ name: p.name, distance: editDistance(typed, p.name) }))
    .filter((p) => p.distance <= tolerance)
    .sort((a, b) => a.distance - b.distance)
    .map((p) => p.name);
  return [...new Set([...close, ...containing, ...family])].slice(0, limit);
}

export function findPreset(name: string): Preset {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) {
    const near = similarPresetNames(name);
    throw new ConfigError(`unknown preset '${name}'${near.length ? `; did you mean ${near.join(', ')}?` : ''} (see 'pyramid info --list')`);
  }
  return preset;
}
