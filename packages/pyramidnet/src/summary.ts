import type { ImageShape } from '@pyramid/core';
import type { PyramidNet } from './model';

export interface LayerRow {
  name: string;
  type: string;
  /** Output shape for one image: [height, width, channels] or [features]. */
  outputShape: number[];
  params: number;
  macs: number;
}

export interface ModelSummary {
  rows: LayerRow[];
  /** Every trainable scalar, BN included (what PyTorch's sum of p.numel() gives). */
  params: number;
  /** The paper's convention: convolution and fc weights (and the fc bias), without BN. */
  paperParams: number;
  /** BN scale and shift parameters. */
  bnParams: number;
  /** Multiply-accumulates of convolutions and fc per image. */
  macs: number;
  input: ImageShape;
}

function countOf(module: { parameters(): { size: number }[] }): number {
  return module.parameters().reduce((n, p) => n + p.size, 0);
}

/** The layer table, parameter counts and multiply-accumulates of a model, computed from shapes. */
export function summarize(model: PyramidNet): ModelSummary {
  const arch = model.architecture;
  const rows: LayerRow[] = [];
  let { height, width } = arch.input;
  const imagenet = arch.layout === 'imagenet';

  const stemMacs = model.conv1.macs(height, width);
  [height, width] = model.conv1.outputSize(height, width);
  rows.push({ name: 'conv1', type: `Conv${model.conv1.kernelSize}x${model.conv1.kernelSize}/${model.conv1.stride}`, outputShape: [height, width, arch.stemWidth], params: countOf(model.conv1), macs: stemMacs });
  rows.push({ name: 'bn1', type: 'BatchNorm', outputShape: [height, width, arch.stemWidth], params: countOf(model.bn1), macs: 0 });
  if (imagenet) {
    height = Math.floor((height + 2 - 3) / 2) + 1;
    width = Math.floor((width + 2 - 3) / 2) + 1;
    rows.push({ name: 'maxpool', type: 'ReLU, MaxPool3x3/2', outputShape: [height, width, arch.stemWidth], params: 0, macs: 0 });
  }
  model.stages.forEach((stage, s) => {
    stage.items.forEach((unit, i) => {
      const macs = unit.macs(height, width);
      if (unit.stride === 2) {
        height = Math.ceil(height / 2);
        width = Math.ceil(width / 2);
      }
      const type = `${arch.unit === 'basic' ? 'Basic' : 'Bottleneck'}${unit.stride === 2 ? '/2' : ''} ${unit.inChannels}->${unit.outChannels}`;
      rows.push({ name: `layer${s + 1}.${i}`, type, outputShape: [height, width, unit.outChannels], params: countOf(unit), macs });
    });
  });
  rows.push({ name: 'bn_final', type: 'BatchNorm, ReLU', outputShape: [height, width, arch.featureChannels], params: countOf(model.bnFinal), macs: 0 });
  rows.push({ name: 'avgpool', type: 'GlobalAvgPool', outputShape: [arch.featureChannels], params: 0, macs: 0 });
  rows.push({ name: 'fc', type: 'Linear', outputShape: [arch.classes], params: countOf(model.fc), macs: arch.featureChannels * arch.classes });

  const bnParams = model
    .namedTensors()
    .filter((t) => t.kind === 'parameter' && t.variable.rank === 1 && !t.name.startsWith('fc.'))
    .reduce((n, t) => n + t.variable.size, 0);
  const params = model.parameterCount();
  return {
    rows,
    params,
    paperParams: params - bnParams,
    bnParams,
    macs: rows.reduce((n, r) => n + r.macs, 0),
    input: { ...arch.input },
  };
}

/** The summary as an aligned text table. */
export function formatSummary(summary: ModelSummary): string {
  const header = ['layer', 'type', 'output', 'params'];
  const body = summary.rows.map((r) => [r.name, r.type, r.outputShape.join('x'), r.params.toLocaleString('en-US')]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  const { height, width, channels } = summary.input;
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    `input                 ${height}x${width}x${channels}`,
    `parameters            ${summary.params.toLocaleString('en-US')}`,
    `  without BN (paper)  ${summary.paperParams.toLocaleString('en-US')}`,
    `multiply-accumulates  ${(summary.macs / 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 })}M per image`,
  ].join('\n');
}
