import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type {
  BatchNormLayer,
  CompileRefusal,
  CompiledStepResult,
  CompiledStepSettings,
  CompiledTrainingStep,
  ConvolutionLayer,
  DispatchTiming,
  NetworkDescription,
  NetworkState,
  ResidualUnitDescription,
  SequenceLayer,
} from '../network';
import { crossEntropy } from '../ops/cross-entropy';
import { type Shape4, geometry } from './conv2d';
import type { NativeKernels } from './native';
import { type BatchNormSaved, batchNormGradInputInto, batchNormGradParams, batchNormTrainingInto } from './native-batch-norm';
import { spatialMeanInto } from './native-mean';
import { runningUpdateInto } from './running-statistics';
import { shortcutShape } from './shortcut';
import { spatialMeanGradInto } from './spatial-mean-grad';

/**
 * A PyramidNet training step on the native CPU kernels, planned once and replayed: every
 * activation, gradient and parameter lives in arrays made when the step is compiled, and a step is
 * a fixed list of kernel calls on them. It calls the very functions the op-by-op step's kernels
 * call, in the same order of arithmetic, so its results are the op-by-op step's bit for bit; what
 * it leaves out is tfjs's work around them: the gradient tape, a tensor and a data entry per op,
 * stacking each batch norm's parameters, and fresh arrays for every output.
 *
 * The parameters sit in one array in the network's order, each batch norm's weight right before
 * its bias, so that [weight; bias] is a view and not a copy; their gradients and momentum buffers
 * have the same layout. The classifier and loss (a few thousand numbers) run as tfjs ops, the ones
 * the op-by-op step runs.
 */

/** An NHWC activation of a plan (the compiled step's or the compiled inference's). */
export interface Activation {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
  channels: number;
}

export const sizeOf = (a: Omit<Activation, 'data'>) => a.batch * a.height * a.width * a.channels;

/** The native shortcut's shape argument for a unit's residual and input. */
export function unitShortcutShape(unit: ResidualUnitDescription, residual: Omit<Activation, 'data'>, x: Omit<Activation, 'data'>): Int32Array {
  const stride = unit.shortcut.kind === 'zero-pad' ? unit.shortcut.stride : 1;
  return Int32Array.from(shortcutShape([residual.batch, residual.height, residual.width, residual.channels], [x.batch, x.height, x.width, x.channels], stride));
}

/** One call of the plan: what runs, for profiles and counts. */
interface PlannedCall {
  kernel: string;
  label: string;
  flops: number;
  run: () => void;
}

/** A parameter's place in the step's parameter, gradient and momentum arrays. */
interface Slot {
  offset: number;
  length: number;
}

/** A batch norm of the plan, with what its forward call leaves for the backward pass. */
interface PlannedBatchNorm {
  layer: BatchNormLayer;
  /** [weight; bias] and their gradients: views of the step's arrays. */
  params: Float32Array;
  dParams: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  saved: BatchNormSaved;
}

/** The batch a step runs on, read by the planned calls. */
interface StepInput {
  images: Float32Array;
  labels: Int32Array;
  lr: number;
}

/** The ImageNet stem's max pool, the paper's (NetworkDescription says only whether there is one). */
const STEM_POOL = { size: 3, stride: 2, padding: 1 } as const;

/** Why the network cannot be compiled on the CPU, or null. */
export function cpuCompileRefusal(network: NetworkDescription, settings: Pick<CompiledStepSettings, 'batchSize'>): string | null {
  if (network.stem.layers[0]?.op !== 'conv') return 'only a stem that starts with a convolution is compiled';
  for (const [i, unit] of network.units.entries()) {
    if (unit.shortcut.kind !== 'zero-pad') return `unit ${i} has a projection shortcut, which is not compiled`;
    if (unit.shakeDrop) return 'ShakeDrop is not compiled';
  }
  if (settings.batchSize < 2) return 'batch norm needs at least 2 images per batch';
  return null;
}

/**
 * Gradient arrays of the backward pass, reused as soon as a gradient has been consumed: a step
 * needs a handful, each as long as the largest activation, whatever the depth.
 */
class GradientArrays {
  private readonly free: Float32Array[] = [];
  readonly all: Float32Array[] = [];

  constructor(private readonly length: number) {}

  take(length: number): Float32Array {
    const whole = this.free.pop() ?? this.make();
    return whole.subarray(0, length);
  }

  give(array: Float32Array): void {
    this.free.push(new Float32Array(array.buffer, array.byteOffset, this.length));
  }

  private make(): Float32Array {
    const array = new Float32Array(this.length);
    this.all.push(array);
    return array;
  }
}

export class CpuCompiledStep implements CompiledTrainingStep {
  readonly dispatchesPerStep: number;
  readonly bytes: number;

  private readonly slots = new Map<string, Slot>();
  private readonly parameters: Float32Array;
  private readonly gradients: Float32Array;
  private readonly momentum: Float32Array;
  private readonly runningStatistics = new Map<string, Float32Array>();
  private readonly calls: PlannedCall[] = [];
  private readonly input: StepInput = { images: new Float32Array(0), labels: new Int32Array(0), lr: 0 };
  private result: CompiledStepResult = { loss: NaN, predicted: new Int32Array(0), applied: false };
  /** Whether SGD's momentum buffers hold a step yet (PyTorch starts them at the first gradient). */
  private started = false;
  private timings: DispatchTiming[] | null = null;

  private constructor(
    private readonly native: NativeKernels,
    private readonly network: NetworkDescription,
    private readonly settings: CompiledStepSettings,
  ) {
    let total = 0;
    const place = (name: string, length: number) => {
      this.slots.set(name, { offset: total, length });
      total += length;
    };
    const layers = [...network.stem.layers, ...network.units.flatMap((u) => u.branch), network.head.batchNorm];
    for (const layer of layers) {
      if (layer.op === 'conv') {
        place(layer.weight, layer.kernelSize * layer.kernelSize * layer.inChannels * layer.outChannels);
      } else {
        place(layer.weight, layer.channels);
        place(layer.bias, layer.channels);
        this.runningStatistics.set(layer.runningMean, new Float32Array(layer.channels));
        this.runningStatistics.set(layer.runningVar, new Float32Array(layer.channels));
      }
    }
    const { fc } = network.head;
    place(fc.weight, fc.inFeatures * fc.outFeatures);
    place(fc.bias, fc.outFeatures);
    this.parameters = new Float32Array(total);
    this.gradients = new Float32Array(total);
    this.momentum = new Float32Array(total);
    const activationBytes = this.plan();
    this.dispatchesPerStep = this.calls.length;
    this.bytes = 3 * total * 4 + activationBytes;
  }

  /** Plans the step on `native`, or says which part of the network or recipe it does not compile. */
  static compile(native: NativeKernels, network: NetworkDescription, settings: CompiledStepSettings): CpuCompiledStep | CompileRefusal {
    const reason = cpuCompileRefusal(network, settings);
    if (reason) return { unsupported: reason };
    return new CpuCompiledStep(native, network, settings);
  }

  private view(of: Float32Array, name: string, length?: number): Float32Array {
    const slot = this.slots.get(name)!;
    return of.subarray(slot.offset, slot.offset + (length ?? slot.length));
  }

  private call(kernel: string, label: string, run: () => void, flops = 0): void {
    this.calls.push({ kernel, label, run, flops });
  }

  /** Records every call of a step; returns the bytes of the activations and gradient arrays. */
  private plan(): number {
    const { network, native, settings } = this;
    const { height, width, channels } = network.input;
    const batch = settings.batchSize;
    const activations: Float32Array[] = [];
    // A unit's last output only feeds its shortcut's addition (the backward pass never reads it
    // unless a ReLU masks with it): all of them share one array, given its length once planned.
    const transients: Activation[] = [];
    const activation = (shape: Omit<Activation, 'data'>, transient = false): Activation => {
      if (transient) {
        const planned = { ...shape, data: new Float32Array(0) };
        transients.push(planned);
        return planned;
      }
      const data = new Float32Array(sizeOf(shape));
      activations.push(data);
      return { ...shape, data };
    };
    const images: Activation = { batch, height, width, channels, data: new Float32Array(0) };
    const input = this.input;

    const convolutions = new Map<ConvolutionLayer, { geometry: Int32Array; x: Activation; y: Activation; macs: number }>();
    const batchNorms = new Map<BatchNormLayer, PlannedBatchNorm & { x: Activation; y: Activation }>();

    // ---- forward ----
    const conv = (layer: ConvolutionLayer, x: Activation, label: string, transient: boolean): Activation => {
      const info = backend_util.computeConv2DInfo([x.batch, x.height, x.width, x.channels] as Shape4, [layer.kernelSize, layer.kernelSize, layer.inChannels, layer.outChannels] as Shape4, layer.stride, 1, layer.padding as never, undefined, false, 'channelsLast');
      const y = activation({ batch: x.batch, height: info.outHeight, width: info.outWidth, channels: layer.outChannels }, transient);
      const g = Int32Array.from(geometry(info));
      const w = this.view(this.parameters, layer.weight);
      const macs = sizeOf(y) * layer.kernelSize * layer.kernelSize * layer.inChannels;
      convolutions.set(layer, { geometry: g, x, y, macs });
      // The images arrive with each step: read them through the input, not a planned array.
      const source = () => (x === images ? input.images : x.data);
      this.call('convForward', label, () => native.convForward(source(), w, y.data, g), 2 * macs);
      return y;
    };
    const batchNorm = (layer: BatchNormLayer, x: Activation, label: string, transient = false): Activation => {
      const y = activation({ batch: x.batch, height: x.height, width: x.width, channels: x.channels }, transient && !layer.relu);
      const rows = x.batch * x.height * x.width;
      const planned: PlannedBatchNorm & { x: Activation; y: Activation } = {
        layer, x, y,
        params: this.view(this.parameters, layer.weight, 2 * layer.channels),
        dParams: this.view(this.gradients, layer.weight, 2 * layer.channels),
        runningMean: this.runningStatistics.get(layer.runningMean)!,
        runningVar: this.runningStatistics.get(layer.runningVar)!,
        saved: { x: x.data, y: layer.relu ? y.data : null, rows, C: layer.channels, mean: new Float32Array(0), variance: new Float32Array(0), epsilon: layer.epsilon },
      };
      batchNorms.set(layer, planned);
      const unbias = rows > 1 ? rows / (rows - 1) : 1;
      this.call('bnForward', label, () => {
        const { mean, variance } = batchNormTrainingInto(native, x.data, rows, layer.channels, planned.params, layer.epsilon, layer.relu, y.data);
        planned.saved.mean = mean;
        planned.saved.variance = variance;
        runningUpdateInto(planned.runningMean, mean, layer.momentum, layer.momentum, planned.runningMean);
        runningUpdateInto(planned.runningVar, variance, layer.momentum, layer.momentum * unbias, planned.runningVar);
      });
      return y;
    };
    /** A sequence's layers in order; with `transientLast`, the last one's output is one of the shared transients where it can be. */
    const sequence = (layers: SequenceLayer[], x: Activation, transientLast = false): Activation =>
      layers.reduce((h, layer, i) => {
        const transient = transientLast && i === layers.length - 1;
        return layer.op === 'conv' ? conv(layer, h, layer.weight, transient) : batchNorm(layer, h, layer.weight, transient);
      }, x);

    const stemOut = sequence(network.stem.layers, images);
    // The ImageNet stem's 3x3/2 max pool (padding 1), as tfjs's pooling kernels compute it and its gradient.
    const pool = network.stem.maxPool ? backend_util.computePool2DInfo([batch, stemOut.height, stemOut.width, stemOut.channels], STEM_POOL.size, STEM_POOL.stride, 1, STEM_POOL.padding) : null;
    const pooled = pool ? activation({ batch, height: pool.outHeight, width: pool.outWidth, channels: stemOut.channels }) : stemOut;
    const stemShape: [number, number, number, number] = [batch, stemOut.height, stemOut.width, stemOut.channels];
    if (pool) {
      this.call('maxPool', 'stem', () => pooled.data.set(tf.tidy(() => tf.maxPool(tf.tensor4d(stemOut.data, stemShape), STEM_POOL.size, STEM_POOL.stride, STEM_POOL.padding).dataSync())));
    }
    const unitInputs: Activation[] = [];
    const shortcutShapes: Int32Array[] = [];
    let h = pooled;
    for (const [i, unit] of network.units.entries()) {
      unitInputs.push(h);
      const residual = sequence(unit.branch, h, true);
      const out = activation({ batch, height: residual.height, width: residual.width, channels: residual.channels });
      const shape = unitShortcutShape(unit, residual, h);
      shortcutShapes.push(shape);
      const x = h;
      this.call('shortcutAdd', `unit ${i}`, () => native.shortcutAdd(residual.data, x.data, out.data, shape));
      h = out;
    }
    const shared = new Float32Array(Math.max(0, ...transients.map(sizeOf)));
    for (const t of transients) t.data = shared.subarray(0, sizeOf(t));
    activations.push(shared);
    const final = batchNorm(network.head.batchNorm, h, network.head.batchNorm.weight);
    const { fc } = network.head;
    const features = new Float32Array(batch * fc.inFeatures);
    const pixels = final.height * final.width;
    this.call('globalMean', 'avgpool', () => spatialMeanInto(native, final.data, batch, pixels, final.channels, features));

    // ---- loss and classifier gradients: tfjs ops, as the op-by-op step runs them ----
    const dFeatures = new Float32Array(batch * fc.inFeatures);
    const fcWeight = this.view(this.parameters, fc.weight);
    const fcBias = this.view(this.parameters, fc.bias);
    const dFcWeight = this.view(this.gradients, fc.weight);
    const dFcBias = this.view(this.gradients, fc.bias);
    this.call('classifier', 'fc and loss', () => {
      const { loss, predicted } = tf.tidy(() => {
        const labels = tf.tensor1d(input.labels, 'int32');
        let predicted: tf.Tensor | null = null;
        const { value, grads } = tf.valueAndGrads((f: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
          const logits = tf.add(tf.matMul(f as tf.Tensor2D, w as tf.Tensor2D), b) as tf.Tensor2D;
          predicted = tf.keep(tf.argMax(logits, 1));
          return crossEntropy(logits, labels, settings.labelSmoothing);
        })([tf.tensor2d(features, [batch, fc.inFeatures]), tf.tensor2d(fcWeight, [fc.inFeatures, fc.outFeatures]), tf.tensor1d(fcBias)]);
        dFeatures.set(grads[0].dataSync());
        dFcWeight.set(grads[1].dataSync());
        dFcBias.set(grads[2].dataSync());
        const classes = (predicted as tf.Tensor | null)!.dataSync() as Int32Array;
        tf.dispose(predicted!);
        return { loss: value.dataSync()[0], predicted: classes };
      });
      this.result = { loss, predicted: Int32Array.from(predicted), applied: Number.isFinite(loss) };
    });

    // ---- backward ----
    const largest = Math.max(...activations.map((a) => a.length));
    const scratch = new GradientArrays(largest);
    const batchNormBackward = (layer: BatchNormLayer, dy: Float32Array, label: string): Float32Array => {
      const planned = batchNorms.get(layer)!;
      const dx = scratch.take(sizeOf(planned.x));
      this.call('bnBackward', label, () => {
        planned.dParams.set(batchNormGradParams(native, dy, planned.saved));
        batchNormGradInputInto(native, dy, planned.saved, planned.params, planned.dParams, dx);
      });
      return dx;
    };
    const convBackward = (layer: ConvolutionLayer, dy: Float32Array, label: string, inputGradient: boolean): Float32Array | null => {
      const { geometry: g, x, macs } = convolutions.get(layer)!;
      const w = this.view(this.parameters, layer.weight);
      const dw = this.view(this.gradients, layer.weight);
      let dx: Float32Array | null = null;
      if (inputGradient) {
        const into = scratch.take(sizeOf(x));
        this.call('convBackwardData', label, () => native.convBackwardData(dy, w, into, g), 2 * macs);
        dx = into;
      }
      const source = () => (x === images ? input.images : x.data);
      this.call('convBackwardFilter', label, () => native.convBackwardWeights(source(), dy, dw, g, false), 2 * macs);
      return dx;
    };
    /** The gradient of a sequence's input from its output's `dy` (given back once used); null for the images. */
    const sequenceBackward = (layers: SequenceLayer[], dy: Float32Array, wantInput: boolean): Float32Array | null => {
      let g: Float32Array | null = dy;
      for (let i = layers.length - 1; i >= 0 && g; i--) {
        const layer = layers[i];
        const next: Float32Array | null = layer.op === 'conv' ? convBackward(layer, g, layer.weight, i > 0 || wantInput) : batchNormBackward(layer, g, layer.weight);
        scratch.give(g);
        g = next;
      }
      return g;
    };

    const dFinal = scratch.take(sizeOf(final));
    this.call('globalMeanBackward', 'avgpool', () => spatialMeanGradInto(dFeatures, batch, pixels, final.channels, dFinal));
    let g = batchNormBackward(network.head.batchNorm, dFinal, network.head.batchNorm.weight);
    scratch.give(dFinal);
    for (let i = network.units.length - 1; i >= 0; i--) {
      const unit = network.units[i];
      const x = unitInputs[i];
      const dShortcut = scratch.take(sizeOf(x));
      const shape = shortcutShapes[i];
      const dy = g;
      this.call('shortcutBackward', `unit ${i}`, () => native.shortcutGrad(dy, dShortcut, shape));
      const dBranch = sequenceBackward(unit.branch, g, true)!;
      const dx = scratch.take(sizeOf(x));
      this.call('add', `unit ${i} input gradient`, () => native.add(dBranch, dShortcut, dx, dx.length));
      scratch.give(dBranch);
      scratch.give(dShortcut);
      g = dx;
    }
    if (pool) {
      const dPooled = g;
      const dStem = scratch.take(sizeOf(stemOut));
      const pooledShape: [number, number, number, number] = [batch, pooled.height, pooled.width, pooled.channels];
      this.call('maxPoolBackward', 'stem', () =>
        dStem.set(
          tf.tidy(() => {
            const poolOf = (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, STEM_POOL.size, STEM_POOL.stride, STEM_POOL.padding);
            return tf.grad(poolOf)(tf.tensor4d(stemOut.data, stemShape), tf.tensor4d(dPooled, pooledShape)).dataSync();
          }),
        ),
      );
      scratch.give(dPooled);
      g = dStem;
    }
    sequenceBackward(network.stem.layers, g, false);

    // ---- SGD: one native call over the parameters laid end to end, a run per parameter ----
    const slots = [...this.slots];
    const bounds = Int32Array.from([0, ...slots.map(([, slot]) => slot.offset + slot.length)]);
    const weightDecays = Float32Array.from(slots, ([name]) => (settings.noDecay.includes(name) ? 0 : settings.weightDecay));
    const lrScales = slots.map(([name]) => settings.lrScale[name] ?? 1);
    const lrs = new Float32Array(slots.length);
    this.call('sgd', 'all parameters', () => {
      if (!this.result.applied) return;
      for (let s = 0; s < lrScales.length; s++) lrs[s] = input.lr * lrScales[s];
      const { momentum, dampening, nesterov } = settings;
      native.sgdStep(this.parameters, this.gradients, this.momentum, bounds, weightDecays, lrs, momentum, dampening, nesterov, !this.started);
      this.started = true;
    });

    return activations.reduce((n, a) => n + a.byteLength, 0) + scratch.all.length * largest * 4 + 2 * features.byteLength;
  }

  load(state: NetworkState): void {
    const read = (values: Record<string, Float32Array>, name: string, length: number, what: string): Float32Array => {
      const v = values[name];
      if (!v) throw new Error(`compiled step: the ${what} '${name}' is missing`);
      if (v.length !== length) throw new Error(`compiled step: the ${what} '${name}' has ${v.length} values, the network needs ${length}`);
      return v;
    };
    // Everything is checked before anything is written: a state that does not fit leaves the step as it was.
    const parameters = [...this.slots].map(([name, slot]) => [read(state.parameters, name, slot.length, 'parameter'), slot] as const);
    const statistics = [...this.runningStatistics].map(([name, array]) => [read(state.buffers, name, array.length, 'buffer'), array] as const);
    const momentum = state.momentum;
    const buffers = momentum ? [...this.slots].map(([name, slot]) => [read(momentum, name, slot.length, 'momentum buffer'), slot] as const) : [];
    for (const [values, slot] of parameters) this.parameters.set(values, slot.offset);
    for (const [values, array] of statistics) array.set(values);
    this.momentum.fill(0);
    for (const [values, slot] of buffers) this.momentum.set(values, slot.offset);
    this.started = state.momentum !== null;
  }

  record(images: Float32Array, labels: Int32Array, lr: number): void {
    const { height, width, channels } = this.network.input;
    const { batchSize } = this.settings;
    if (images.length !== batchSize * height * width * channels) throw new Error(`compiled step: ${images.length} image values, the step takes ${batchSize} images of ${height}x${width}x${channels}`);
    if (labels.length !== batchSize) throw new Error(`compiled step: ${labels.length} labels, the step takes ${batchSize}`);
    this.input.images = images;
    this.input.labels = labels;
    this.input.lr = lr;
    for (const c of this.calls) {
      if (!this.timings) {
        c.run();
        continue;
      }
      const start = performance.now();
      c.run();
      this.timings.push({ kernel: c.kernel, label: c.label, ms: performance.now() - start, flops: c.flops });
    }
    this.input.images = new Float32Array(0);
  }

  run(images: Float32Array, labels: Int32Array, lr: number): Promise<CompiledStepResult> {
    try {
      this.record(images, labels, lr);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(this.result);
  }

  async profile(images: Float32Array, labels: Int32Array, lr: number): Promise<DispatchTiming[]> {
    this.timings = [];
    try {
      this.record(images, labels, lr);
      return this.timings;
    } finally {
      this.timings = null;
    }
  }

  async read(): Promise<NetworkState> {
    const copy = (of: Float32Array) => Object.fromEntries([...this.slots].map(([name, slot]) => [name, of.slice(slot.offset, slot.offset + slot.length)]));
    const buffers = Object.fromEntries([...this.runningStatistics].map(([name, array]) => [name, array.slice()]));
    return { parameters: copy(this.parameters), buffers, momentum: this.started && this.settings.momentum > 0 ? copy(this.momentum) : null };
  }

  dispose(): void {
    this.calls.length = 0;
  }
}
