import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { BatchNormLayer, CompileRefusal, CompiledInference, ConvolutionLayer, NetworkDescription, NetworkState, SequenceLayer } from '../network';
import { inferenceCoefficients } from './batch-norm-math';
import { type Shape4, geometry } from './conv2d';
import type { NativeKernels } from './native';
import { batchNormInferenceInto } from './native-batch-norm';
import { foldBatchNorm } from './native-conv2d';
import { spatialMeanInto } from './native-mean';
import { type Activation, sizeOf, unitShortcutShape } from './compiled-step';

/**
 * Eval-mode inference on the native CPU kernels, planned once for a network and batch size and
 * replayed: a handful of arrays reused from layer to layer, and each batch norm that follows a
 * convolution in a unit folded into that convolution's filter and bias when the weights are
 * loaded, not at every batch. The layers are grouped as the op-by-op model groups them (the stem's
 * convolution and batch norm stay apart, a unit's first batch norm is applied alone), with the same
 * functions, so the logits are the op-by-op ones bit for bit.
 */

// An activation's array is given once the whole plan is known (see Arrays).

/**
 * The plan's arrays: an activation takes one while something still reads it and gives it back
 * after its last reader is planned; each array is made as long as the longest activation it held.
 */
class Arrays {
  private readonly free: number[] = [];
  private readonly holders: Activation[][] = [];
  private readonly arrayOf = new Map<Activation, number>();

  take(shape: Omit<Activation, 'data'>): Activation {
    const id = this.free.pop() ?? this.holders.push([]) - 1;
    const activation = { batch: shape.batch, height: shape.height, width: shape.width, channels: shape.channels, data: new Float32Array(0) };
    this.holders[id].push(activation);
    this.arrayOf.set(activation, id);
    return activation;
  }

  give(activation: Activation): void {
    this.free.push(this.arrayOf.get(activation)!);
  }

  /** Makes the arrays; returns their bytes. */
  allocate(): number {
    let bytes = 0;
    for (const held of this.holders) {
      const array = new Float32Array(Math.max(...held.map(sizeOf)));
      bytes += array.byteLength;
      for (const a of held) a.data = array.subarray(0, sizeOf(a));
    }
    return bytes;
  }
}

/** Why the network's inference cannot be compiled on the CPU, or null. */
export function cpuInferenceRefusal(network: NetworkDescription): string | null {
  for (const [i, unit] of network.units.entries()) {
    if (unit.shortcut.kind !== 'zero-pad') return `unit ${i} has a projection shortcut, which is not compiled`;
    if (unit.shakeDrop) return 'ShakeDrop is not compiled';
  }
  return null;
}

export class CpuCompiledInference implements CompiledInference {
  readonly dispatchesPerBatch: number;
  readonly bytes: number;
  private readonly calls: (() => void)[] = [];
  /**
   * What `load` computes from the state (weights as the calls read them, batch norms folded): each
   * reads and checks its entries, and returns what stores them, so that nothing is stored before
   * every entry has been found to fit.
   */
  private readonly loaders: ((state: Pick<NetworkState, 'parameters' | 'buffers'>) => () => void)[] = [];
  private images: Float32Array = new Float32Array(0);
  private logits: Float32Array;
  private loaded = false;

  private constructor(
    private readonly native: NativeKernels,
    private readonly network: NetworkDescription,
    private readonly batchSize: number,
  ) {
    this.logits = new Float32Array(batchSize * network.classes);
    this.bytes = this.plan();
    this.dispatchesPerBatch = this.calls.length;
  }

  static compile(native: NativeKernels, network: NetworkDescription, batchSize: number): CpuCompiledInference | CompileRefusal {
    const reason = cpuInferenceRefusal(network);
    if (reason) return { unsupported: reason };
    return new CpuCompiledInference(native, network, batchSize);
  }

  /** A state entry by name, of the length the network needs. */
  private static entry(values: Record<string, Float32Array>, name: string, length: number, what: string): Float32Array {
    const v = values[name];
    if (!v) throw new Error(`compiled inference: the ${what} '${name}' is missing`);
    if (v.length !== length) throw new Error(`compiled inference: the ${what} '${name}' has ${v.length} values, the network needs ${length}`);
    return v;
  }

  private plan(): number {
    const { native, network, batchSize: batch } = this;
    const arrays = new Arrays();
    const entry = CpuCompiledInference.entry;
    const statistics = (state: Pick<NetworkState, 'parameters' | 'buffers'>, bn: BatchNormLayer) => {
      const C = bn.channels;
      return [entry(state.buffers, bn.runningMean, C, 'buffer'), entry(state.buffers, bn.runningVar, C, 'buffer'), entry(state.parameters, bn.weight, C, 'parameter'), entry(state.parameters, bn.bias, C, 'parameter')] as const;
    };
    const images: Activation = { ...network.input, batch, data: new Float32Array(0) };
    const source = (x: Activation) => (x === images ? this.images : x.data);

    /** A convolution, with the batch norm after it folded in when `bn` is given. */
    const conv = (layer: ConvolutionLayer, bn: BatchNormLayer | null, x: Activation): Activation => {
      const info = backend_util.computeConv2DInfo([x.batch, x.height, x.width, x.channels] as Shape4, [layer.kernelSize, layer.kernelSize, layer.inChannels, layer.outChannels] as Shape4, layer.stride, 1, layer.padding as never, undefined, false, 'channelsLast');
      const y = arrays.take({ batch, height: info.outHeight, width: info.outWidth, channels: layer.outChannels });
      const g = Int32Array.from(geometry(info));
      const length = layer.kernelSize * layer.kernelSize * layer.inChannels * layer.outChannels;
      const weights = { filter: new Float32Array(0), bias: new Float32Array(0) };
      this.loaders.push((state) => {
        const filter = entry(state.parameters, layer.weight, length, 'parameter');
        if (!bn) {
          const copy = filter.slice();
          return () => (weights.filter = copy);
        }
        const [mean, variance, scale, offset] = statistics(state, bn);
        const folded = foldBatchNorm(filter, mean, variance, scale, offset, bn.epsilon);
        return () => Object.assign(weights, folded);
      });
      this.calls.push(
        bn
          ? () => native.convForwardAffine(source(x), weights.filter, weights.bias, y.data, g, bn.relu)
          : () => native.convForward(source(x), weights.filter, y.data, g),
      );
      return y;
    };
    const batchNorm = (layer: BatchNormLayer, x: Activation): Activation => {
      const y = arrays.take(x);
      const rows = x.batch * x.height * x.width;
      let coefficients: Float32Array = new Float32Array(0);
      this.loaders.push((state) => {
        const [mean, variance, scale, offset] = statistics(state, layer);
        const computed = inferenceCoefficients(mean, variance, scale, offset, layer.epsilon);
        return () => (coefficients = computed);
      });
      this.calls.push(() => batchNormInferenceInto(native, x.data, rows, layer.channels, coefficients, layer.relu, y.data));
      return y;
    };
    /** The layers in order, a batch norm after a convolution folded into it where `fold`; each input given back once read. */
    const sequence = (layers: SequenceLayer[], x: Activation, fold: boolean, keepInput: boolean): Activation => {
      let h = x;
      for (let i = 0; i < layers.length; i++) {
        const layer = layers[i];
        const next = layers[i + 1];
        const input = h;
        if (layer.op === 'conv') {
          const folded = fold && next?.op === 'batch-norm' ? next : null;
          h = conv(layer, folded, input);
          if (folded) i++;
        } else {
          h = batchNorm(layer, input);
        }
        if (input !== images && (input !== x || !keepInput)) arrays.give(input);
      }
      return h;
    };

    let h = sequence(network.stem.layers, images, false, false);
    if (network.stem.maxPool) {
      // The ImageNet stem's 3x3/2 max pool (padding 1), as tfjs's kernel computes it.
      const stem = h;
      const pool = backend_util.computePool2DInfo([batch, stem.height, stem.width, stem.channels], 3, 2, 1, 1);
      const pooled = arrays.take({ batch, height: pool.outHeight, width: pool.outWidth, channels: stem.channels });
      const shape: [number, number, number, number] = [batch, stem.height, stem.width, stem.channels];
      this.calls.push(() => pooled.data.set(tf.tidy(() => tf.maxPool(tf.tensor4d(stem.data, shape), 3, 2, 1).dataSync())));
      arrays.give(stem);
      h = pooled;
    }
    for (const unit of network.units) {
      const x = h;
      const residual = sequence(unit.branch, x, true, true);
      const out = arrays.take(residual);
      const shape = unitShortcutShape(unit, residual, x);
      this.calls.push(() => native.shortcutAdd(residual.data, x.data, out.data, shape));
      arrays.give(x);
      arrays.give(residual);
      h = out;
    }
    const final = batchNorm(network.head.batchNorm, h);
    arrays.give(h);
    const { fc } = network.head;
    const features = new Float32Array(batch * fc.inFeatures);
    this.calls.push(() => spatialMeanInto(native, final.data, batch, final.height * final.width, final.channels, features));
    const classifier = { weight: new Float32Array(0), bias: new Float32Array(0) };
    this.loaders.push((state) => {
      const weight = entry(state.parameters, fc.weight, fc.inFeatures * fc.outFeatures, 'parameter').slice();
      const bias = entry(state.parameters, fc.bias, fc.outFeatures, 'parameter').slice();
      return () => Object.assign(classifier, { weight, bias });
    });
    // The classifier as the op-by-op model runs it (a few thousand multiply-adds).
    this.calls.push(() =>
      this.logits.set(
        tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(features, [batch, fc.inFeatures]), tf.tensor2d(classifier.weight, [fc.inFeatures, fc.outFeatures])), tf.tensor1d(classifier.bias)).dataSync()),
      ),
    );
    return arrays.allocate() + features.byteLength + this.logits.byteLength;
  }

  load(state: Pick<NetworkState, 'parameters' | 'buffers'>): void {
    const stores = this.loaders.map((load) => load(state));
    for (const store of stores) store();
    this.loaded = true;
  }

  run(images: Float32Array): Promise<Float32Array> {
    const { height, width, channels } = this.network.input;
    if (!this.loaded) return Promise.reject(new Error('compiled inference: load the weights first'));
    if (images.length !== this.batchSize * height * width * channels) {
      return Promise.reject(new Error(`compiled inference: ${images.length} image values, the plan takes ${this.batchSize} images of ${height}x${width}x${channels}`));
    }
    this.images = images;
    try {
      for (const call of this.calls) call();
    } finally {
      this.images = new Float32Array(0);
    }
    return Promise.resolve(this.logits.slice());
  }

  dispose(): void {
    this.calls.length = 0;
    this.loaders.length = 0;
  }
}
