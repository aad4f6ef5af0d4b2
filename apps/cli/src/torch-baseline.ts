import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UsageError } from './output';

/** PyTorch's figures for the same model and batch, from one process per memory format. */
export interface TorchRun {
  torch: string;
  threads: number;
  memoryFormat: 'contiguous' | 'channels_last';
  params: number;
  train: { msPerStep: number; imagesPerSecond: number };
  inference: { msPerStep: number; imagesPerSecond: number } | null;
  trainPeakRssBytes: number;
}

const SCRIPT = fileURLToPath(new URL('../torch/pyramidnet_bench.py', import.meta.url));
/** Debian's python3-torch installs for the system Python, which other Pythons on PATH may not see. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

/** The first Python that imports torch, or a one-line error saying how to get one. */
export function findTorchPython(given?: string): string {
  for (const python of given ? [given] : PYTHONS) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return python;
    } catch {
      // try the next one
    }
  }
  throw new UsageError(
    given
      ? `--torch-python ${given} cannot import torch`
      : `--against torch needs PyTorch for ${PYTHONS.join(' or ')}; install it with: apt-get install python3-torch (or pass --torch-python PATH)`,
  );
}

/** The parts of a resolved architecture that the PyTorch script reproduces. */
export interface TorchArchitecture {
  layout: string;
  depth: number;
  alpha: number;
  classes: number;
  unit: string;
  widening: string;
  rounding: string;
  design: string;
  shortcut: string;
  shakeDrop: unknown;
  input: { height: number; width: number; channels: number };
}

/** Why the PyTorch script cannot build this architecture (it builds the reference code's CIFAR PyramidNets), or null. */
export function torchSupports(arch: TorchArchitecture): string | null {
  if (arch.layout !== 'cifar') return `layout ${arch.layout} (only cifar)`;
  if (arch.widening !== 'additive') return `${arch.widening} widening (only additive)`;
  if (arch.rounding !== 'half-even') return `${arch.rounding} rounding (only half-even, Python's round)`;
  if (arch.design !== 'pyramid') return `design ${arch.design} (only pyramid)`;
  if (arch.shortcut !== 'zero-pad') return `${arch.shortcut} shortcuts (only zero-pad)`;
  if (arch.shakeDrop) return 'ShakeDrop';
  return null;
}

export interface TorchOptions {
  batch: number;
  steps: number;
  warmup: number;
  threads: number;
  channelsLast: boolean;
  inference: boolean;
}

export function runTorchBaseline(python: string, arch: TorchArchitecture, options: TorchOptions): TorchRun {
  const unsupported = torchSupports(arch);
  if (unsupported) throw new UsageError(`--against torch builds the reference code's CIFAR PyramidNets; this model has ${unsupported}`);
  const request = {
    depth: arch.depth,
    alpha: arch.alpha,
    bottleneck: arch.unit === 'bottleneck',
    classes: arch.classes,
    ...arch.input,
    batch: options.batch,
    steps: options.steps,
    warmup: options.warmup,
    threads: options.threads,
    channels_last: options.channelsLast,
    inference: options.inference,
  };
  const output = execFileSync(python, [SCRIPT, JSON.stringify(request)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  const lastLine = output.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(lastLine) as TorchRun;
  } catch {
    throw new Error(`the PyTorch benchmark printed no result: ${lastLine.slice(0, 200)}`);
  }
}
