import type { ImageShape } from '@pyramid/core';
import { batchNormParameterNames } from './batch-norms';
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

/** The layer table, parameter counts and multiply-accumulates of a model, read from its geometry. */
export function summarize(model: PyramidNet): ModelSummary {
  const arch = model.architecture;
  const { stem, stages, head, macs } = model.geometry;
  const conv = stem.conv;
  const rows: LayerRow[] = [
    { name: conv.name, type: `Conv${conv.kernelSize}x${conv.kernelSize}/${conv.stride}`, outputShape: [...conv.output, conv.outChannels], params: countOf(model.conv1), macs: conv.macs },
    { name: stem.bn.name, type: 'BatchNorm', outputShape: [...stem.bn.output, stem.bn.channels], params: countOf(model.bn1), macs: 0 },
  ];
  if (stem.maxPool) {
    const { kernelSize: k, stride, output } = stem.maxPool;
    rows.push({ name: 'maxpool', type: `ReLU, MaxPool${k}x${k}/${stride}`, outputShape: [...output, stem.bn.channels], params: 0, macs: 0 });
  }
  stages.forEach((units, s) => {
    units.forEach((unit, i) => {
      const type = `${unit.type === 'basic' ? 'Basic' : 'Bottleneck'}${unit.stride === 2 ? '/2' : ''} ${unit.inChannels}->${unit.outChannels}`;
      const unitMacs = unit.convs.reduce((n, c) => n + c.macs, 0);
      rows.push({ name: unit.name, type, outputShape: [...unit.output, unit.outChannels], params: countOf(model.stages[s].items[i]), macs: unitMacs });
    });
  });
  rows.push({ name: head.bn.name, type: 'BatchNorm, ReLU', outputShape: [...head.bn.output, head.bn.channels], params: countOf(model.bnFinal), macs: 0 });
  rows.push({ name: 'avgpool', type: 'GlobalAvgPool', outputShape: [head.fc.inFeatures], params: 0, macs: 0 });
  rows.push({ name: head.fc.name, type: 'Linear', outputShape: [head.fc.outFeatures], params: countOf(model.fc), macs: head.fc.macs });

  const bn = batchNormParameterNames(model);
  const bnParams = model
    .namedTensors()
    .filter((t) => bn.has(t.name))
    .reduce((n, t) => n + t.variable.size, 0);
  const params = model.parameterCount();
  return { rows, params, paperParams: params - bnParams, bnParams, macs, input: { ...arch.input } };
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
