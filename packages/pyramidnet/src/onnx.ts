import { ConfigError, type InputSpec } from '@pyramid/core';
import { BasicUnit, type BatchNorm2d, BottleneckUnit, type Conv2d, type PyramidalUnit, type Shortcut } from '@pyramid/units';
import protobuf from 'protobufjs/light.js';
import type { PyramidNet } from './model';

/**
 * The model in inference mode as an ONNX graph (opset 13, dynamic batch), for onnxruntime (Node,
 * web, native), TensorRT and the serving stacks that load ONNX.
 *
 * - 'nchw-float32' (default): the interface `torch.onnx.export` gives the reference model, one
 *   float32 input [N, C, H, W] already normalised as `input.normalization` says, logits out.
 * - 'nhwc-uint8': raw pixels [N, H, W, C] as decoded images come in a browser, with the
 *   normalisation in the graph.
 *
 * Every batch norm that follows a convolution is folded into it (filter and bias); the unit's first
 * batch norm, which precedes a zero-padded convolution, stays a BatchNormalization node. The
 * normalisation and class names are in the model's metadata.
 */
export type OnnxInputLayout = 'nchw-float32' | 'nhwc-uint8';

export interface OnnxExportOptions {
  inputLayout?: OnnxInputLayout;
  /** Written as the model's producer version. */
  producerVersion?: string;
}

export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13 (ONNX 1.8) and is read by every runtime since. */
const ONNX_IR_VERSION = 7;

// The subset of onnx.proto (field numbers as the ONNX specification gives them) that a
// convolutional classifier needs.
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TensorTypeProto', id: 1 } } },
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const FLOAT = 1;
const UINT8 = 2;
const INT64 = 7;
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

type Attribute = { name: string; type: number; f?: number; i?: number; ints?: number[] };
interface Node {
  opType: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}
interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

const ints = (name: string, values: number[]): Attribute => ({ name, type: ATTRIBUTE_INTS, ints: values });
const int = (name: string, value: number): Attribute => ({ name, type: ATTRIBUTE_INT, i: value });
const float = (name: string, value: number): Attribute => ({ name, type: ATTRIBUTE_FLOAT, f: value });

/** Builds the node list and initializers, naming values after the state_dict's modules. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];

  constant(name: string, values: Float32Array | BigInt64Array, dims: number[]): string {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    this.initializers.push({ name, dims, dataType: values instanceof Float32Array ? FLOAT : INT64, rawData: bytes });
    return name;
  }

  node(opType: string, name: string, input: string[], attribute: Attribute[] = []): string {
    const output = `${name}:out`;
    this.nodes.push({ opType, name, input, output: [output], attribute });
    return output;
  }
}

/** scale / sqrt(var + eps) and offset - mean * that, per channel, in float64 then rounded once. */
function foldedBatchNorm(bn: BatchNorm2d): { multiplier: Float64Array; shift: Float64Array } {
  const [scale, offset, mean, variance] = [bn.weight, bn.bias, bn.runningMean, bn.runningVar].map((t) => t.dataSync() as Float32Array);
  const multiplier = Float64Array.from(scale, (s, c) => s / Math.sqrt(variance[c] + bn.epsilon));
  const shift = Float64Array.from(offset, (o, c) => o - mean[c] * multiplier[c]);
  return { multiplier, shift };
}

/** HWIO filter -> OIHW, times a per-output-channel multiplier. */
function oihw(conv: Conv2d, multiplier?: Float64Array): Float32Array {
  const w = conv.weight.dataSync() as Float32Array;
  const { kernelSize: k, inChannels: ci, outChannels: co } = conv;
  const out = new Float32Array(w.length);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++) out[((o * ci + c) * k + i) * k + j] = w[((i * k + j) * ci + c) * co + o] * (multiplier ? multiplier[o] : 1);
  return out;
}

function convolution(g: GraphBuilder, name: string, conv: Conv2d, x: string, bn?: BatchNorm2d): string {
  const folded = bn ? foldedBatchNorm(bn) : null;
  const inputs = [x, g.constant(`${name}.weight`, oihw(conv, folded?.multiplier), [conv.outChannels, conv.inChannels, conv.kernelSize, conv.kernelSize])];
  if (folded) inputs.push(g.constant(`${name}.bias`, Float32Array.from(folded.shift), [conv.outChannels]));
  const p = conv.padding;
  return g.node('Conv', name, inputs, [ints('kernel_shape', [conv.kernelSize, conv.kernelSize]), ints('strides', [conv.stride, conv.stride]), ints('pads', [p, p, p, p])]);
}

function batchNormalization(g: GraphBuilder, name: string, bn: BatchNorm2d, x: string): string {
  const tensors = [bn.weight, bn.bias, bn.runningMean, bn.runningVar].map((t) => Float32Array.from(t.dataSync() as Float32Array));
  const names = ['weight', 'bias', 'running_mean', 'running_var'].map((part, i) => g.constant(`${name}.${part}`, tensors[i], [bn.channels]));
  return g.node('BatchNormalization', name, [x, ...names], [float('epsilon', bn.epsilon)]);
}

function shortcut(g: GraphBuilder, name: string, s: Shortcut, x: string, residual: string): string {
  let path = x;
  if (s.conv && s.bn) {
    path = convolution(g, `${name}.conv`, s.conv, x, s.bn);
  } else {
    // The paper's shortcut: a 2x2 average pool (PyTorch's ceil_mode, averaging only the pixels a
    // window covers) when the unit downsamples, then zero channels up to the residual's width.
    if (s.stride === 2) path = g.node('AveragePool', `${name}.pool`, [path], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('ceil_mode', 1)]);
    const extra = s.outChannels - s.inChannels;
    if (extra > 0) {
      const pads = g.constant(`${name}.pads`, BigInt64Array.from([0, 0, 0, 0, 0, extra, 0, 0].map(BigInt)), [8]);
      path = g.node('Pad', `${name}.pad`, [path, pads]);
    }
  }
  return g.node('Add', `${name}.add`, [residual, path]);
}

function unit(g: GraphBuilder, name: string, u: PyramidalUnit, x: string): string {
  if (!(u instanceof BasicUnit) && !(u instanceof BottleneckUnit)) throw new ConfigError(`ONNX export: unknown unit type at ${name}`);
  let h = batchNormalization(g, `${name}.bn1`, u.bn1, x);
  if (u.firstRelu) h = g.node('Relu', `${name}.relu1`, [h]);
  h = g.node('Relu', `${name}.relu2`, [convolution(g, `${name}.conv1`, u.conv1, h, u.bn2)]);
  if (u instanceof BasicUnit) {
    h = convolution(g, `${name}.conv2`, u.conv2, h, u.bn3);
  } else {
    h = g.node('Relu', `${name}.relu3`, [convolution(g, `${name}.conv2`, u.conv2, h, u.bn3)]);
    h = convolution(g, `${name}.conv3`, u.conv3, h, u.bn4);
  }
  // ShakeDrop at inference scales the residual by its expected factor, the keep probability.
  if (u.shakeDrop) h = g.node('Mul', `${name}.shake_drop`, [h, g.constant(`${name}.shake_drop.keep`, Float32Array.of(u.shakeDrop.keep), [])]);
  return shortcut(g, `${name}.shortcut`, u.shortcut, x, h);
}

/** The model as ONNX bytes; `input` gives the normalisation and class names recorded with it. */
export function exportOnnx(model: PyramidNet, input: InputSpec, options: OnnxExportOptions = {}): Uint8Array {
  const layout = options.inputLayout ?? 'nchw-float32';
  const { height, width, channels } = model.architecture.input;
  const { normalization, classNames } = input;
  if (normalization.mean.length !== channels || normalization.std.length !== channels) {
    throw new ConfigError(`ONNX export: normalization has ${normalization.mean.length} means and ${normalization.std.length} stds for a ${channels}-channel model`);
  }
  const g = new GraphBuilder();
  let h = 'input';
  if (layout === 'nhwc-uint8') {
    // (pixel / scale - mean) / std as one multiply-add per channel, the loaders' own arithmetic.
    const multiplier = Float32Array.from(normalization.std, (s) => 1 / (normalization.scale * s));
    const shift = Float32Array.from(normalization.mean, (m, c) => -m / normalization.std[c]);
    h = g.node('Cast', 'input.float', [h], [int('to', FLOAT)]);
    h = g.node('Transpose', 'input.nchw', [h], [ints('perm', [0, 3, 1, 2])]);
    h = g.node('Mul', 'input.scale', [h, g.constant('input.multiplier', multiplier, [1, channels, 1, 1])]);
    h = g.node('Add', 'input.normalized', [h, g.constant('input.shift', shift, [1, channels, 1, 1])]);
  }
  const { maxPool } = model.geometry.stem;
  h = convolution(g, 'conv1', model.conv1, h, model.bn1);
  if (maxPool) {
    h = g.node('Relu', 'relu', [h]);
    const p = maxPool.padding;
    h = g.node('MaxPool', 'maxpool', [h], [ints('kernel_shape', [maxPool.kernelSize, maxPool.kernelSize]), ints('strides', [maxPool.stride, maxPool.stride]), ints('pads', [p, p, p, p])]);
  }
  model.stages.forEach((stage, s) => stage.items.forEach((u, i) => (h = unit(g, `layer${s + 1}.${i}`, u, h))));
  h = g.node('Relu', 'relu_final', [batchNormalization(g, 'bn_final', model.bnFinal, h)]);
  h = g.node('Flatten', 'flatten', [g.node('GlobalAveragePool', 'avgpool', [h])]);
  const fcWeight = Float32Array.from(model.fc.weight.dataSync() as Float32Array);
  const fcBias = Float32Array.from(model.fc.bias.dataSync() as Float32Array);
  h = g.node('Gemm', 'fc', [h, g.constant('fc.weight', fcWeight, [model.fc.inFeatures, model.fc.outFeatures]), g.constant('fc.bias', fcBias, [model.fc.outFeatures])]);
  g.nodes[g.nodes.length - 1].output = ['logits'];

  const batch = { dimParam: 'batch' };
  const inputType =
    layout === 'nhwc-uint8'
      ? { elemType: UINT8, shape: { dim: [batch, { dimValue: height }, { dimValue: width }, { dimValue: channels }] } }
      : { elemType: FLOAT, shape: { dim: [batch, { dimValue: channels }, { dimValue: height }, { dimValue: width }] } };
  const root = protobuf.Root.fromJSON(SCHEMA);
  const Model = root.lookupType('onnx.ModelProto');
  const message = Model.fromObject({
    irVersion: ONNX_IR_VERSION,
    producerName: 'pyramidnet-ts',
    producerVersion: options.producerVersion ?? '',
    docString: `PyramidNet (Han, Kim & Kim, CVPR 2017), ${model.architecture.layout} layout, depth ${model.architecture.depth}, alpha ${model.architecture.alpha}`,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    metadataProps: [
      { key: 'input_layout', value: layout },
      { key: 'normalization', value: JSON.stringify(normalization) },
      { key: 'class_names', value: JSON.stringify(classNames) },
    ],
    graph: {
      name: 'pyramidnet',
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: 'input', type: { tensorType: inputType } }],
      output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT, shape: { dim: [batch, { dimValue: model.fc.outFeatures }] } } } }],
    },
  });
  return Model.encode(message).finish();
}
