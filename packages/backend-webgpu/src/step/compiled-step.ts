import type {
  BatchNormLayer,
  CompileRefusal,
  CompiledInference,
  CompiledStepResult,
  CompiledStepSettings,
  CompiledTrainingStep,
  ConvolutionLayer,
  DispatchTiming,
  NetworkDescription,
  NetworkState,
  SequenceLayer,
} from '@pyramid/core';
import * as shaders from './shaders';

/**
 * A PyramidNet training step planned once and replayed: every buffer, pipeline, bind group and
 * uniform is made when the step is compiled, and a step re-records the same list of dispatches
 * into a few compute passes. Per step the host writes the batch and the learning rate, records,
 * submits, and reads the loss and predictions back; nothing else crosses to the GPU.
 *
 * What runs, per pyramidal unit (x its input, g the gradient of its output):
 *   forward:  stats(x); c1 = conv1(bn1(x)) with stats(c1); c2 = conv2(relu(bn2(c1))) with stats(c2);
 *             bn3 made final; out = bn3(c2) + shortcut(x)
 *   backward: reduce and apply bn3 to g; conv2's filter and data gradients; reduce and apply bn2;
 *             conv1's filter and data gradients; reduce and apply bn1, adding the shortcut's part of g
 * A batch norm followed by a convolution is applied inside the convolution's loads, so its output
 * is never stored; a convolution followed by a batch norm takes that batch norm's statistics of the
 * tiles it stores, so its output is not read again for them; filter gradients are split-K slices
 * that the SGD dispatch sums. Channels are padded to multiples of 4 inside the plan (padded()).
 * The ImageNet stem's max pool applies the stem's batch norm and ReLU as it reads their input; its
 * backward recomputes each window's maximum instead of keeping it.
 */

/** Dispatches per compute pass, and passes per submit: encoding of the next overlaps the GPU's work. */
const DISPATCHES_PER_PASS = 256;
/** The most split-K slices of a filter gradient, and the fewest pixels a slice sums. */
const MAX_SPLITS = 32;
const MIN_SPLIT_PIXELS = 256;
/** The most slices a batch norm's statistics are taken in, and the fewest rows a slice holds. */
const MAX_STAT_SLICES = 64;
const MIN_SLICE_ROWS = 256;
/** Rows of the batch norm's backward apply per workgroup (of 32 channels). */
const APPLY_ROWS = 256;
const UNIFORM_STRIDE = 256;
/** Resets the step's mark of a non-finite batch statistic. */
const CLEAR_WORD = new Uint32Array(1);

type Kernel =
  | 'convForward' | 'convBackwardData' | 'convBackwardFilter' | 'bnSlices' | 'bnFinalize' | 'bnBackwardReduce' | 'bnBackwardApply' | 'bnApply'
  | 'residualAdd' | 'globalMean' | 'softmaxCrossEntropy' | 'classifierBackward' | 'sgd' | 'bnEvalState' | 'classifier'
  | 'stemMaxPool' | 'stemMaxPoolBackward';

/** The convolutions' WGSL for a tile, with vec4 loads of the input (all but the images); the other kernels' below. */
const CONV_SOURCES: Record<'convForward' | 'convBackwardData' | 'convBackwardFilter', (tile: shaders.Tile, wide: boolean) => string> = {
  convForward: shaders.convForward,
  convBackwardData: (tile) => shaders.convBackwardData(tile),
  convBackwardFilter: shaders.convBackwardFilter,
};

const SOURCES: Record<Exclude<Kernel, keyof typeof CONV_SOURCES>, string> = {
  bnSlices: shaders.BATCH_NORM_SLICES,
  bnFinalize: shaders.BATCH_NORM_FINALIZE,
  bnBackwardReduce: shaders.BATCH_NORM_BACKWARD_REDUCE,
  bnBackwardApply: shaders.BATCH_NORM_BACKWARD_APPLY,
  bnApply: shaders.BATCH_NORM_APPLY,
  residualAdd: shaders.RESIDUAL_ADD,
  globalMean: shaders.GLOBAL_MEAN,
  softmaxCrossEntropy: shaders.SOFTMAX_CROSS_ENTROPY,
  classifierBackward: shaders.CLASSIFIER_BACKWARD,
  sgd: shaders.SGD,
  bnEvalState: shaders.BATCH_NORM_EVAL_STATE,
  classifier: shaders.CLASSIFIER,
  stemMaxPool: shaders.STEM_MAX_POOL,
  stemMaxPoolBackward: shaders.STEM_MAX_POOL_BACKWARD,
};

interface Dispatch {
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number, number];
  /** What it computes, for profiles. */
  label: string;
  /** Multiply-adds, for the convolutions' rates in profiles. */
  macs: number;
}

/** An activation: an NHWC tensor with its buffer, its channels stored `stride` apart (padded: see padded()). */
interface Value {
  buffer: GPUBuffer;
  batch: number;
  height: number;
  width: number;
  channels: number;
  stride: number;
}

/**
 * Channels as the plan stores them: rounded up to a multiple of 4, so that the convolutions load
 * vec4s, the padding kept exactly zero (what PyramidNet's zero-padded shortcut adds anyway). The
 * images alone keep their 3 channels.
 */
const padded = (channels: number) => Math.ceil(channels / 4) * 4;

/** A convolution's weight [kh, kw, in, out] as the plan stores it: its channels padded (the stem's input side excepted). */
interface ConvShape {
  kernel: number;
  inChannels: number;
  outChannels: number;
  inStride: number;
  outStride: number;
}

/** Whether a padded weight's padding (channels beyond the real ones) is all zero. */
function paddingIsZero(shape: ConvShape, pad: Float32Array, offset: number): boolean {
  const { kernel, inChannels, outChannels, inStride, outStride } = shape;
  for (let tap = 0; tap < kernel * kernel; tap++) {
    for (let ci = 0; ci < inStride; ci++) {
      const row = offset + (tap * inStride + ci) * outStride;
      for (let co = ci < inChannels ? outChannels : 0; co < outStride; co++) if (pad[row + co] !== 0) return false;
    }
  }
  return true;
}

/** Copies a weight between its real shape and the plan's padded one (padding left as it is, zero). */
function copyPadded(shape: ConvShape, real: Float32Array, pad: Float32Array, offset: number, toPadded: boolean): void {
  const { kernel, inChannels, outChannels, inStride, outStride } = shape;
  for (let tap = 0; tap < kernel * kernel; tap++) {
    for (let ci = 0; ci < inChannels; ci++) {
      const from = (tap * inChannels + ci) * outChannels;
      const to = offset + (tap * inStride + ci) * outStride;
      if (toPadded) pad.set(real.subarray(from, from + outChannels), to);
      else real.set(pad.subarray(to, to + outChannels), from);
    }
  }
}

/** A batch norm's place in the flat buffers. */
interface PlannedBatchNorm {
  layer: BatchNormLayer;
  gamma: number;
  beta: number;
  runningMean: number;
  runningVar: number;
  state: number;
  /** Where its statistics' slices go (room for the most either way of taking them needs). */
  slicesBase: number;
  /**
   * Its batch statistics in slices, once the forward pass has taken them: how many, of how many
   * rows; by the convolution that produced its input (a slice per row of its workgroups) or by
   * a dispatch of their own.
   */
  slices?: { base: number; count: number; sliceRows: number; rows: number };
}

/** A value as a convolution reads it: raw, or through the batch norm whose statistics are taken of it. */
interface ConvInput {
  value: Value;
  bn: PlannedBatchNorm | null;
}

/** The stem's, the units' and the head's convolutions and batch norms, in forward order. */
function sequenceLayers(network: NetworkDescription): SequenceLayer[] {
  return [...network.stem.layers, ...network.units.flatMap((u) => u.branch), network.head.batchNorm];
}

/** A convolution's output side for an input side, as PyTorch computes it for symmetric padding. */
function outputSide(conv: ConvolutionLayer, side: number): number {
  return Math.floor((side + 2 * conv.padding - conv.kernelSize) / conv.stride) + 1;
}

/** The rows (pixels of the batch) of every convolution's output and of every batch norm's input. */
function layerRows(network: NetworkDescription, batch: number): Map<SequenceLayer, number> {
  const rows = new Map<SequenceLayer, number>();
  let { height, width } = network.input;
  const stemBn = network.stem.layers[1];
  for (const layer of sequenceLayers(network)) {
    if (layer.op === 'conv') {
      height = outputSide(layer, height);
      width = outputSide(layer, width);
    }
    rows.set(layer, batch * height * width);
    if (layer === stemBn && network.stem.maxPool) {
      height = pooledSide(height);
      width = pooledSide(width);
    }
  }
  return rows;
}

/** The ImageNet stem's max pool, the one network.ts's `stem.maxPool` names (PyTorch's MaxPool2d(3, 2, 1)). */
export const STEM_POOL = { kernelSize: 3, stride: 2, padding: 1 } as const;

/** The stem pool's output side for an input side (floor mode). */
const pooledSide = (side: number) => Math.floor((side + 2 * STEM_POOL.padding - STEM_POOL.kernelSize) / STEM_POOL.stride) + 1;

/** What is checked before planning: the network features the kernels implement. */
export function refusal(network: NetworkDescription): string | null {
  const [conv, bn, ...rest] = network.stem.layers;
  if (conv?.op !== 'conv' || bn?.op !== 'batch-norm' || rest.length) return 'only a convolution and batch norm stem is compiled';
  if (network.stem.maxPool && !bn.relu) return 'a max-pooled stem is compiled with a ReLU after its batch norm only';
  for (const [i, unit] of network.units.entries()) {
    if (unit.shortcut.kind !== 'zero-pad') return `unit ${i} has a projection shortcut, which is not compiled`;
    if (unit.shakeDrop) return 'ShakeDrop is not compiled';
    const first = unit.branch[0];
    if (first?.op !== 'batch-norm') return `unit ${i}'s branch does not start with a batch norm`;
    for (let j = 1; j < unit.branch.length; j++) {
      if (unit.branch[j].op === 'batch-norm' && unit.branch[j - 1].op === 'batch-norm') return `unit ${i} has two batch norms in a row`;
    }
    if (!unit.branch.some((l) => l.op === 'conv')) return `unit ${i} has no convolution`;
  }
  return null;
}

interface Device {
  device: GPUDevice;
  maxBinding: number;
}

function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
}

/**
 * Flat offsets of every named parameter, convolution weights first (their gradients are split-K;
 * their sizes are the padded ones, multiples of 4, so that every weight starts on a vec4).
 */
function layoutParameters(network: NetworkDescription, settings: CompiledStepSettings) {
  const convs: ConvolutionLayer[] = [];
  const bns: BatchNormLayer[] = [];
  for (const layer of sequenceLayers(network)) {
    if (layer.op === 'conv') convs.push(layer);
    else bns.push(layer);
  }
  const stem = network.stem.layers[0];
  const shapes = new Map<string, ConvShape>();
  for (const c of convs) {
    shapes.set(c.weight, {
      kernel: c.kernelSize, inChannels: c.inChannels, outChannels: c.outChannels,
      inStride: c === stem ? c.inChannels : padded(c.inChannels), outStride: padded(c.outChannels),
    });
  }
  const sizes = new Map<string, number>();
  for (const c of convs) {
    const shape = shapes.get(c.weight)!;
    sizes.set(c.weight, c.kernelSize * c.kernelSize * shape.inStride * shape.outStride);
  }
  const { fc } = network.head;
  sizes.set(fc.weight, fc.inFeatures * fc.outFeatures);
  sizes.set(fc.bias, fc.outFeatures);
  for (const b of bns) {
    sizes.set(b.weight, b.channels);
    sizes.set(b.bias, b.channels);
  }
  const noDecay = new Set(settings.noDecay);
  const groupOf = (name: string) => `${noDecay.has(name) ? 0 : settings.weightDecay}/${settings.lrScale[name] ?? 1}`;
  // Within the convolutions and then the rest, parameters sharing a decay and scale sit together.
  const order = (names: string[]) => [...names].sort((a, b) => (groupOf(a) < groupOf(b) ? -1 : groupOf(a) > groupOf(b) ? 1 : 0));
  const convNames = order(convs.map((c) => c.weight));
  const restNames = order([...sizes.keys()].filter((n) => !convNames.includes(n)));
  const offsets = new Map<string, number>();
  let total = 0;
  const ranges: { end: number; weightDecay: number; lrScale: number }[] = [];
  for (const name of [...convNames, ...restNames]) {
    offsets.set(name, total);
    total += sizes.get(name)!;
    const weightDecay = noDecay.has(name) ? 0 : settings.weightDecay;
    const lrScale = settings.lrScale[name] ?? 1;
    const last = ranges[ranges.length - 1];
    if (last && last.weightDecay === weightDecay && last.lrScale === lrScale) last.end = total;
    else ranges.push({ end: total, weightDecay, lrScale });
  }
  const convTotal = convNames.reduce((n, name) => n + sizes.get(name)!, 0);
  return { offsets, sizes, shapes, total, convTotal, ranges, bns };
}

export class WebGpuCompiledStep implements CompiledTrainingStep {
  readonly dispatchesPerStep: number;
  readonly bytes: number;
  private readonly device: GPUDevice;
  private readonly dispatches: Dispatch[];
  /** Pipelines by kernel (and tile, for the convolutions), made as the plan first needs them. */
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly buffers: GPUBuffer[] = [];
  private readonly offsets: Map<string, number>;
  private readonly sizes: Map<string, number>;
  /** The convolution weights' real and padded shapes. */
  private readonly shapes: Map<string, ConvShape>;
  /** Each running statistic's offset in the running buffer; its size is its batch norm's channels. */
  private readonly running = new Map<string, number>();
  private readonly runningSizes = new Map<string, number>();
  private readonly runningTotal: number;
  private readonly total: number;
  private readonly params: GPUBuffer;
  private readonly momentum: GPUBuffer;
  private readonly runningBuffer: GPUBuffer;
  private readonly images: GPUBuffer;
  private readonly labels: GPUBuffer;
  private readonly results: GPUBuffer;
  /** Where each step's results are copied to be read: two, so that a step can be recorded while the last one's are read. */
  private readonly readbacks: GPUBuffer[];
  private nextReadback = 0;
  private readonly uniforms: GPUBuffer;
  private readonly sgdUniform: number;
  private readonly sgdFixed: ArrayBuffer;
  private first = true;
  private readonly imageSize: number;
  /** Inference: what turns running statistics into each batch norm's scale and shift, run when weights load. */
  private readonly prepare: Dispatch[];
  /** Inference: the logits. */
  private readonly logits: GPUBuffer | null = null;

  private constructor(
    { device, maxBinding }: Device,
    private readonly network: NetworkDescription,
    private readonly settings: CompiledStepSettings,
    /** 'inference': the forward pass in eval mode (running statistics), logits out; no backward, no update. */
    private readonly mode: 'train' | 'inference' = 'train',
  ) {
    const training = mode === 'train';
    this.device = device;
    const batch = settings.batchSize;
    const layout = layoutParameters(network, settings);
    this.offsets = layout.offsets;
    this.sizes = layout.sizes;
    this.shapes = layout.shapes;
    this.total = layout.total;
    if (layout.ranges.length > shaders.SGD_RANGES) throw new Error(`the recipe gives ${layout.ranges.length} groups of weight decay and learning-rate scale; the compiled step handles ${shaders.SGD_RANGES}`);

    const pipeline = (kernel: Kernel, tile?: shaders.Tile, wide = true): GPUComputePipeline => {
      const key = tile ? `${kernel}/${tile.cols}${wide ? '' : '/narrow'}` : kernel;
      let found = this.pipelines.get(key);
      if (!found) {
        const code = kernel in CONV_SOURCES ? CONV_SOURCES[kernel as keyof typeof CONV_SOURCES](tile!, wide) : SOURCES[kernel as keyof typeof SOURCES];
        const module = device.createShaderModule({ code, label: key });
        found = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
        this.pipelines.set(key, found);
      }
      return found;
    };

    const storage = (floats: number, label: string, extra = 0) => this.buffer(floats * 4, GPUBufferUsage.STORAGE | extra, label);
    const copyable = GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    // Whole vec4s: the convolutions bind the parameters as vec4s.
    this.params = storage(padded(layout.total), 'parameters', copyable);
    // Inference needs neither gradients nor momentum.
    const grads = storage(training ? layout.total : 1, 'gradients');
    this.momentum = storage(training ? padded(layout.total) : 1, 'momentum', copyable);

    // Running statistics, the batch norms' per-step state and statistics slices, at offsets of their own.
    const rowsOf = layerRows(network, batch);
    const sliceCount = (rows: number) => Math.max(1, Math.min(MAX_STAT_SLICES, Math.floor(rows / MIN_SLICE_ROWS)));
    const bnByName = new Map<string, PlannedBatchNorm>();
    let runningTotal = 0;
    let stateTotal = 0;
    let slicesTotal = 0;
    for (const bn of layout.bns) {
      const planned: PlannedBatchNorm = {
        layer: bn, gamma: layout.offsets.get(bn.weight)!, beta: layout.offsets.get(bn.bias)!,
        runningMean: runningTotal, runningVar: runningTotal + bn.channels, state: stateTotal, slicesBase: slicesTotal,
      };
      // Room for a slice per row of tiles of the convolution that produces its input, or for the sliceCount slices of a dispatch of their own (the backward sums' too).
      const rows = rowsOf.get(bn)!;
      slicesTotal += 2 * bn.channels * Math.max(sliceCount(rows), Math.ceil(rows / shaders.tileFor(bn.channels).rows));
      this.running.set(bn.runningMean, runningTotal);
      this.running.set(bn.runningVar, runningTotal + bn.channels);
      this.runningSizes.set(bn.runningMean, bn.channels);
      this.runningSizes.set(bn.runningVar, bn.channels);
      runningTotal += 2 * bn.channels;
      stateTotal += 4 * padded(bn.channels);
      bnByName.set(bn.weight, planned);
    }
    this.runningTotal = runningTotal;
    this.runningBuffer = storage(runningTotal, 'running statistics', copyable);
    const bnState = storage(stateTotal, 'batch-norm state');
    // Each batch norm's statistics in slices: mean and squared deviations per slice and channel.
    const statSlices = storage(training ? slicesTotal : 1, 'batch-statistics slices');

    // Split-K: as many slices as the largest convolution's pixels allow, within the binding limit.
    const convPixels = sequenceLayers(network).filter((l) => l.op === 'conv').map((l) => rowsOf.get(l)!);
    const splits = Math.max(1, Math.min(MAX_SPLITS, Math.floor(maxBinding / 4 / Math.max(1, layout.convTotal)), Math.ceil(Math.max(...convPixels) / MIN_SPLIT_PIXELS)));
    const partials = storage(training ? splits * layout.convTotal : 1, 'filter-gradient slices');

    const { input, classes } = network;
    this.imageSize = batch * input.height * input.width * input.channels;
    this.images = storage(this.imageSize, 'images', GPUBufferUsage.COPY_DST);
    this.labels = storage(batch, 'labels', GPUBufferUsage.COPY_DST);
    this.results = this.buffer((3 + batch) * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'results');
    const readbackBytes = Math.max(3 + batch, training ? 0 : batch * network.classes) * 4;
    this.readbacks = [0, 1].map((i) => this.buffer(readbackBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `results readback ${i}`));

    // Uniforms of every dispatch in one buffer, each at its own 256-byte slot.
    const uniformData: ArrayBuffer[] = [];
    const uniform = (words: (number | { f: number })[]): GPUBufferBinding => {
      const data = new ArrayBuffer(Math.max(16, Math.ceil((words.length * 4) / 16) * 16));
      const u32 = new Uint32Array(data);
      const f32 = new Float32Array(data);
      words.forEach((w, i) => {
        if (typeof w === 'number') u32[i] = w;
        else f32[i] = w.f;
      });
      uniformData.push(data);
      return { buffer: null as unknown as GPUBuffer, offset: (uniformData.length - 1) * UNIFORM_STRIDE, size: data.byteLength };
    };
    const pending: { kernel: Kernel; pipeline: GPUComputePipeline; uniform: GPUBufferBinding; resources: GPUBuffer[]; groups: [number, number, number]; label: string; macs: number }[] = [];
    const dispatch = (kernel: Kernel, words: (number | { f: number })[], resources: GPUBuffer[], groups: [number, number, number], label = '', macs = 0, tile?: shaders.Tile, wide = true) => {
      pending.push({ kernel, pipeline: pipeline(kernel, tile, wide), uniform: uniform(words), resources, groups, label, macs });
    };
    const gemmGroups = (rows: number, cols: number, splitCount: number): [number, number, number] => {
      const tile = shaders.tileFor(cols);
      return [Math.ceil(cols / tile.cols), Math.ceil(rows / tile.rows), splitCount];
    };
    const flatGroups = (threads: number): [number, number, number] => {
      const groups = Math.max(1, Math.ceil(threads / shaders.FLAT_WORKGROUP));
      const x = Math.min(groups, shaders.GRID_X);
      return [x, Math.ceil(groups / x), 1];
    };

    // Backward temporaries come from a free list by size: each is dead once its consumer ran.
    const free = new Map<number, GPUBuffer[]>();
    const take = (floats: number, label: string): GPUBuffer => free.get(floats)?.pop() ?? storage(floats, label);
    const release = (buffer: GPUBuffer) => {
      const list = free.get(buffer.size / 4) ?? [];
      list.push(buffer);
      free.set(buffer.size / 4, list);
    };
    // Training keeps every forward value for the backward pass; inference reuses them once consumed.
    const sizeOf = (v: Omit<Value, 'buffer'>) => v.batch * v.height * v.width * v.stride;
    const pixelsOf = (v: Omit<Value, 'buffer'>) => v.batch * v.height * v.width;
    const newValue = (like: Omit<Value, 'buffer' | 'stride'>, label: string): Value => {
      const shape = { ...like, stride: padded(like.channels) };
      return { ...shape, buffer: training ? storage(sizeOf(shape), label) : take(sizeOf(shape), label) };
    };

    const preparing: typeof pending = [];
    /** A batch norm's statistics of x in a dispatch of their own, unless the convolution that produced x took them. */
    const statistics = (bn: PlannedBatchNorm, x: Value) => {
      const l = bn.layer;
      if (training && bn.slices) return;
      if (!training) {
        preparing.push({ kernel: 'bnEvalState', pipeline: pipeline('bnEvalState'), uniform: uniform([l.channels, bn.state, bn.gamma, bn.beta, bn.runningMean, bn.runningVar, { f: l.epsilon }, padded(l.channels)]),
          resources: [this.params, this.runningBuffer, bnState], groups: [Math.ceil(l.channels / shaders.FLAT_WORKGROUP), 1, 1], label: l.weight, macs: 0 });
        return;
      }
      const rows = pixelsOf(x);
      const count = sliceCount(rows);
      const sliceRows = Math.ceil(rows / count);
      bn.slices = { base: bn.slicesBase, count, sliceRows, rows };
      dispatch('bnSlices', [rows, l.channels, sliceRows, bn.slices.base, x.stride, 0, 0, 0], [x.buffer, statSlices], [Math.ceil(l.channels / shaders.REDUCE_CHANNELS), count, 1], l.weight);
    };
    /** Makes a batch norm final in a dispatch of its own, for consumers that do not finalize it. */
    const finalize = (bn: PlannedBatchNorm) => {
      if (!training) return;
      const l = bn.layer;
      const { base, count, sliceRows, rows } = bn.slices!;
      dispatch('bnFinalize', [rows, l.channels, { f: l.epsilon }, { f: l.momentum }, bn.state, bn.gamma, bn.beta, bn.runningMean, bn.runningVar, base, count, sliceRows, padded(l.channels), 0, 0, 0],
        [statSlices, this.params, bnState, this.runningBuffer, this.results], [Math.ceil(l.channels / shaders.COMBINE_CHANNELS), 1, 1], l.weight);
    };
    const convWords = (conv: ConvolutionLayer, x: Omit<Value, 'buffer'>, out: Omit<Value, 'buffer'>, rows: number, cols: number, depth: number, chunk: number, prologue: number, bnStateOffset: number, finalizing?: PlannedBatchNorm, statsBase?: number) => {
      const s = finalizing?.slices;
      const l = finalizing?.layer;
      return [
        x.batch, x.height, x.width, x.stride, out.height, out.width, out.stride, conv.kernelSize,
        conv.stride, conv.padding, rows, cols, depth, chunk, prologue, layout.offsets.get(conv.weight)!,
        bnStateOffset, layout.offsets.get(conv.weight)!, layout.convTotal, statsBase === undefined ? 0 : 1,
        finalizing ? 1 : 0, s?.base ?? 0, s?.count ?? 0, s?.sliceRows ?? 0,
        s?.rows ?? 0, finalizing?.gamma ?? 0, finalizing?.beta ?? 0, finalizing?.runningMean ?? 0,
        finalizing?.runningVar ?? 0, { f: l?.epsilon ?? 0 }, { f: l?.momentum ?? 0 }, statsBase ?? 0,
        x.channels, out.channels, 0, 0,
      ];
    };
    const prologueOf = (bn: PlannedBatchNorm | null) => (bn ? (bn.layer.relu ? 2 : 1) : 0);
    const outputOf = (conv: ConvolutionLayer, x: Value) => ({ batch: x.batch, height: outputSide(conv, x.height), width: outputSide(conv, x.width), channels: conv.outChannels });
    /** A convolution; with `statisticsFor`, the batch norm after it, whose statistics it takes as it stores its output. */
    // The convolutions run on the padded channels (the images' 3 loaded one by one); their rates count the real ones.
    const convForward = (conv: ConvolutionLayer, input: ConvInput, label: string, statisticsFor?: PlannedBatchNorm): Value => {
      const out = newValue(outputOf(conv, input.value), label);
      const x = input.value;
      const rows = pixelsOf(out);
      const depth = conv.kernelSize * conv.kernelSize * x.stride;
      // The batch norm before it is made final by the convolution's own workgroups where its channels fit their memory.
      let finalizing: PlannedBatchNorm | undefined;
      if (training && input.bn) {
        if (x.stride <= shaders.MAX_PROLOGUE_CHANNELS) finalizing = input.bn;
        else finalize(input.bn);
      }
      let statsBase: number | undefined;
      if (training && statisticsFor) {
        const sliceRows = shaders.tileFor(out.stride).rows;
        statisticsFor.slices = { base: statisticsFor.slicesBase, count: Math.ceil(rows / sliceRows), sliceRows, rows };
        statsBase = statisticsFor.slicesBase;
      }
      dispatch('convForward', convWords(conv, x, out, rows, out.stride, depth, depth, prologueOf(input.bn), input.bn?.state ?? 0, finalizing, statsBase),
        [x.buffer, this.params, bnState, out.buffer, statSlices, this.runningBuffer, this.results], gemmGroups(rows, out.stride, 1), conv.weight,
        rows * conv.kernelSize * conv.kernelSize * conv.inChannels * conv.outChannels, shaders.tileFor(out.stride), x.stride % 4 === 0);
      return out;
    };
    const convFilterGrad = (conv: ConvolutionLayer, input: ConvInput, dOut: Value) => {
      const x = input.value;
      const pixels = pixelsOf(dOut);
      const chunk = Math.ceil(Math.ceil(pixels / splits) / shaders.SLICE_ALIGN) * shaders.SLICE_ALIGN;
      const taps = conv.kernelSize * conv.kernelSize * x.stride;
      dispatch('convBackwardFilter', convWords(conv, x, dOut, taps, dOut.stride, pixels, chunk, prologueOf(input.bn), input.bn?.state ?? 0),
        [x.buffer, dOut.buffer, bnState, partials], gemmGroups(taps, dOut.stride, splits), conv.weight,
        pixels * conv.kernelSize * conv.kernelSize * conv.inChannels * conv.outChannels, shaders.tileFor(dOut.stride), x.stride % 4 === 0);
    };
    const convDataGrad = (conv: ConvolutionLayer, input: Value, dOut: Value): Value => {
      const dx = { ...input, buffer: take(sizeOf(input), 'gradient') };
      const rows = pixelsOf(input);
      const depth = conv.kernelSize * conv.kernelSize * dOut.stride;
      dispatch('convBackwardData', convWords(conv, input, dOut, rows, input.stride, depth, depth, 0, 0),
        [dOut.buffer, this.params, dx.buffer], gemmGroups(rows, input.stride, 1),
        conv.weight, pixelsOf(dOut) * conv.kernelSize * conv.kernelSize * conv.inChannels * conv.outChannels, shaders.tileFor(input.stride));
      return dx;
    };
    /** The gradient at a batch norm's input x from the one at its output (dy, or pooled when dyMode 1). */
    const bnBackward = (bn: PlannedBatchNorm, x: Value, dy: GPUBuffer, dyMode: 0 | 1, shortcut?: { g: Value; stride: number }): Value => {
      const l = bn.layer;
      const rows = pixelsOf(x);
      // The sums in slices, as the forward statistics (their slices' room is free again by now).
      const count = sliceCount(rows);
      const sliceRows = Math.ceil(rows / count);
      const words = (shortcutMode: number, gStride: number) => [
        rows, l.channels, dyMode, x.height * x.width, l.relu ? 1 : 0, bn.state, bn.gamma, bn.beta,
        shortcutMode, x.height, x.width, gStride, count, sliceRows, bn.slices!.base, APPLY_ROWS,
        x.stride, 0, 0, 0,
      ];
      const channelGroups = Math.ceil(l.channels / shaders.REDUCE_CHANNELS);
      dispatch('bnBackwardReduce', words(0, 0), [x.buffer, dy, bnState, statSlices], [channelGroups, count, 1], l.weight);
      const dx = { ...x, buffer: take(sizeOf(x), 'gradient') };
      const mode = shortcut ? (shortcut.stride === 1 ? 1 : 2) : 0;
      dispatch('bnBackwardApply', words(mode, shortcut?.g.stride ?? 0), [x.buffer, dy, bnState, statSlices, this.params, shortcut?.g.buffer ?? dy, dx.buffer, grads],
        [channelGroups, Math.ceil(rows / APPLY_ROWS), 1], l.weight);
      return dx;
    };

    // ---- Forward ----
    const imageValue: Value = { buffer: this.images, batch, height: input.height, width: input.width, channels: input.channels, stride: input.channels };
    const [stemConv, stemBnLayer] = network.stem.layers as [ConvolutionLayer, BatchNormLayer];
    const stemBn = bnByName.get(stemBnLayer.weight)!;
    const stemOut = convForward(stemConv, { value: imageValue, bn: null }, 'stem convolution', stemBn);
    statistics(stemBn, stemOut);
    finalize(stemBn);
    // Over the padded channels: the state's padding is zero, and so the output's.
    const stemPool = network.stem.maxPool ? { height: pooledSide(stemOut.height), width: pooledSide(stemOut.width) } : null;
    /** The pool's uniforms: the stem's batch norm applied to stemOut as the pool reads it. */
    const poolWords = (pooled: Value, size: number) => [
      size, stemOut.stride, stemOut.channels, stemBn.state, stemBnLayer.relu ? 1 : 0, stemOut.height, stemOut.width, pooled.height,
      pooled.width, pooled.stride, 0, 0,
    ];
    let x = newValue({ ...stemOut, ...stemPool }, stemPool ? 'stem pooled output' : 'stem output');
    const stemValue = x;
    if (stemPool) dispatch('stemMaxPool', poolWords(x, sizeOf(x)), [stemOut.buffer, bnState, x.buffer], flatGroups(sizeOf(x)), 'stem max pool');
    else dispatch('bnApply', [sizeOf(x), x.stride, stemBn.state, stemBnLayer.relu ? 1 : 0], [stemOut.buffer, bnState, x.buffer], flatGroups(sizeOf(x)));
    if (!training) release(stemOut.buffer);

    interface UnitPlan { x: Value; out: Value; convs: { conv: ConvolutionLayer; input: ConvInput; output: Value }[]; last: ConvInput; stride: number }
    const unitPlans: UnitPlan[] = [];
    for (const [u, unit] of network.units.entries()) {
      const shortcut = unit.shortcut as Extract<typeof unit.shortcut, { kind: 'zero-pad' }>;
      let current: ConvInput = { value: x, bn: null };
      const convs: UnitPlan['convs'] = [];
      for (const [j, layer] of unit.branch.entries()) {
        if (layer.op === 'batch-norm') {
          const bn = bnByName.get(layer.weight)!;
          statistics(bn, current.value);
          current = { value: current.value, bn };
        } else {
          const next = unit.branch[j + 1];
          const output = convForward(layer, current, `unit ${u} ${layer.weight}`, next?.op === 'batch-norm' ? bnByName.get(next.weight) : undefined);
          convs.push({ conv: layer, input: current, output });
          current = { value: output, bn: null };
        }
      }
      if (current.bn) finalize(current.bn);
      const outShape = { batch, height: current.value.height, width: current.value.width, channels: current.value.channels };
      const out = newValue(outShape, `unit ${u} output`);
      dispatch('residualAdd', [
        sizeOf(out), out.stride, out.height, out.width, x.channels, x.height, x.width, shortcut.stride,
        prologueOf(current.bn), current.bn?.state ?? 0, x.stride, 0,
      ], [current.value.buffer, x.buffer, bnState, out.buffer], flatGroups(sizeOf(out)));
      unitPlans.push({ x, out, convs, last: current, stride: shortcut.stride });
      if (!training) for (const value of [x, ...convs.map((c) => c.output)]) release(value.buffer);
      x = out;
    }

    // Head: batch norm statistics, then BN + ReLU + pool in one pass, classifier and loss.
    const headBn = bnByName.get(network.head.batchNorm.weight)!;
    const { fc } = network.head;
    statistics(headBn, x);
    finalize(headBn);
    const features = fc.inFeatures;
    const pooled = storage(batch * features, 'pooled');
    dispatch('globalMean', [batch, features, x.height * x.width, headBn.state, x.stride, 0, 0, 0], [x.buffer, bnState, pooled], flatGroups(batch * features));
    const fcWeight = layout.offsets.get(fc.weight)!;
    const fcBias = layout.offsets.get(fc.bias)!;
    if (!training) {
      this.logits = storage(batch * classes, 'logits', GPUBufferUsage.COPY_SRC);
      dispatch('classifier', [batch, features, classes, fcWeight, fcBias, 0, 0, 0], [pooled, this.params, this.logits], flatGroups(batch * classes));
      this.sgdUniform = 0;
      this.sgdFixed = new ArrayBuffer(0);
    } else {
      const dlogits = storage(batch * classes, 'logit gradients');
      const dpooled = storage(batch * features, 'pooled gradients');
      dispatch('softmaxCrossEntropy', [batch, features, classes, { f: settings.labelSmoothing }, fcWeight, fcBias, 0, 0],
        [pooled, this.params, this.labels, dlogits, this.results], [1, 1, 1]);

      // ---- Backward ----
      dispatch('classifierBackward', [batch, features, classes, fcWeight, fcBias, 0, 0, 0], [pooled, dlogits, this.params, grads, dpooled],
        flatGroups(features * classes + classes + batch * features));
      let g = bnBackward(headBn, x, dpooled, 1);
      for (const plan of [...unitPlans].reverse()) {
        // The gradient at the branch's last value: g itself, or through its batch norm.
        let dOut: Value = g;
        if (plan.last.bn) dOut = bnBackward(plan.last.bn, plan.last.value, g.buffer, 0);
        let dx: Value | null = null;
        for (const [i, step] of [...plan.convs.entries()].reverse()) {
          convFilterGrad(step.conv, step.input, dOut);
          const dInput = convDataGrad(step.conv, step.input.value, dOut);
          if (dOut !== g) release(dOut.buffer);
          // Every branch starts with a batch norm (checked): its backward adds the shortcut's part of g.
          const bn = step.input.bn!;
          const isFirst = i === 0;
          const dPre = bnBackward(bn, step.input.value, dInput.buffer, 0, isFirst ? { g, stride: plan.stride } : undefined);
          release(dInput.buffer);
          if (isFirst) dx = dPre;
          else dOut = dPre;
        }
        release(g.buffer);
        g = dx!;
      }
      // Stem: the pool's backward (to the batch norm's output), the batch norm's, then the convolution's filter gradient (the images need none).
      if (stemPool) {
        const dPool = take(sizeOf(stemOut), 'gradient');
        dispatch('stemMaxPoolBackward', poolWords(stemValue, sizeOf(stemOut)), [stemOut.buffer, bnState, g.buffer, dPool], flatGroups(sizeOf(stemOut)), 'stem max pool');
        release(g.buffer);
        g = { ...stemOut, buffer: dPool };
      }
      const dStem = bnBackward(stemBn, stemOut, g.buffer, 0);
      release(g.buffer);
      convFilterGrad(stemConv, { value: imageValue, bn: null }, dStem);

      // ---- SGD ----
      const sgdWords: (number | { f: number })[] = [layout.total, layout.convTotal, splits, 1, settings.nesterov ? 1 : 0, { f: 0 }, { f: settings.momentum }, { f: 1 - settings.dampening }];
      for (let i = 0; i < shaders.SGD_RANGES; i++) {
        const r = layout.ranges[i] ?? { end: layout.total, weightDecay: 0, lrScale: 1 };
        sgdWords.push(r.end, { f: r.weightDecay }, { f: r.lrScale }, 0);
      }
      this.sgdUniform = pending.length * UNIFORM_STRIDE;
      dispatch('sgd', sgdWords, [this.params, grads, partials, this.momentum, this.results], flatGroups(layout.total));
      this.sgdFixed = uniformData[uniformData.length - 1];
    }

    // Uniforms and bind groups, once.
    this.uniforms = this.buffer(uniformData.length * UNIFORM_STRIDE, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms');
    const packed = new Uint8Array(uniformData.length * UNIFORM_STRIDE);
    uniformData.forEach((d, i) => packed.set(new Uint8Array(d), i * UNIFORM_STRIDE));
    device.queue.writeBuffer(this.uniforms, 0, packed);
    const bind = ({ kernel, pipeline: chosen, uniform: binding, resources, groups, label, macs }: (typeof pending)[number]): Dispatch => ({
      kernel,
      pipeline: chosen,
      groups,
      label,
      macs,
      bindGroup: device.createBindGroup({
        layout: chosen.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniforms, offset: binding.offset, size: binding.size } },
          ...resources.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
        ],
        label: kernel,
      }),
    });
    this.dispatches = pending.map(bind);
    this.prepare = preparing.map(bind);
    this.dispatchesPerStep = this.dispatches.length;
    this.bytes = this.buffers.reduce((n, b) => n + b.size, 0);
  }

  /** Plans eval-mode inference of batches of `batchSize` on `device`. */
  static async compileInference(device: Device, network: NetworkDescription, batchSize: number): Promise<WebGpuCompiledInference | CompileRefusal> {
    const settings: CompiledStepSettings = { batchSize, labelSmoothing: 0, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, noDecay: [], lrScale: {} };
    const reason = refusal(network);
    if (reason) return { unsupported: reason };
    return new WebGpuCompiledInference(await WebGpuCompiledStep.checked(device, () => new WebGpuCompiledStep(device, network, settings, 'inference')));
  }

  /** Builds a plan inside error scopes: a shader, binding or memory the device refuses is an error here, not at the first step. */
  private static async checked(device: Device, build: () => WebGpuCompiledStep): Promise<WebGpuCompiledStep> {
    device.device.pushErrorScope('validation');
    device.device.pushErrorScope('out-of-memory');
    const step = build();
    const [memory, validation] = [await device.device.popErrorScope(), await device.device.popErrorScope()];
    const error = memory ?? validation;
    if (error) {
      step.dispose();
      throw new Error(`compiled step: the device refused its plan: ${error.message.split('\n')[0]}`);
    }
    return step;
  }

  /** Plans the step on `device`; a refusal says which part of the network or recipe is not compiled. */
  static async compile(device: Device, network: NetworkDescription, settings: CompiledStepSettings): Promise<WebGpuCompiledStep | CompileRefusal> {
    const reason = refusal(network) ?? (settings.batchSize < 2 ? 'batch norm needs at least 2 images per batch' : null);
    if (reason) return { unsupported: reason };
    return WebGpuCompiledStep.checked(device, () => new WebGpuCompiledStep(device, network, settings));
  }

  private buffer(bytes: number, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage, label });
    this.buffers.push(buffer);
    return buffer;
  }

  /** Values of a parameter as the user sees them: a convolution weight's real shape. */
  private realSize(name: string): number {
    const shape = this.shapes.get(name);
    return shape ? shape.kernel * shape.kernel * shape.inChannels * shape.outChannels : this.sizes.get(name)!;
  }

  /** Every parameter's values into the flat layout (convolution weights padded, with zeros). */
  private flatten(values: Record<string, Float32Array>, what: string): Float32Array<ArrayBuffer> {
    const flat = new Float32Array(padded(this.total));
    for (const [name, offset] of this.offsets) {
      const own = values[name];
      const size = this.realSize(name);
      if (!own || own.length !== size) throw new Error(`compiled step: ${what} ${name} needs ${size} values, got ${own?.length ?? 'none'}`);
      const shape = this.shapes.get(name);
      if (shape) copyPadded(shape, own, flat, offset, true);
      else flat.set(own, offset);
    }
    return flat;
  }

  /**
   * Every parameter's values out of the flat layout, in their real shapes. The padding must have
   * stayed zero (its gradients are zero, so SGD leaves it so): anything else is a fault of the plan.
   */
  private unflatten(flat: Float32Array, what: string): Record<string, Float32Array> {
    return Object.fromEntries([...this.offsets].map(([name, offset]) => {
      const shape = this.shapes.get(name);
      if (!shape) return [name, flat.slice(offset, offset + this.sizes.get(name)!)];
      if (!paddingIsZero(shape, flat, offset)) throw new Error(`compiled step: the padding channels of ${what} ${name} are not zero`);
      const real = new Float32Array(this.realSize(name));
      copyPadded(shape, real, flat, offset, false);
      return [name, real];
    }));
  }

  load(state: NetworkState): void {
    this.device.queue.writeBuffer(this.params, 0, this.flatten(state.parameters, 'parameter'));
    const running = new Float32Array(this.runningTotal);
    for (const [name, offset] of this.running) {
      const values = state.buffers[name];
      if (!values || values.length !== this.runningSizes.get(name)) throw new Error(`compiled step: running statistic ${name} is missing or has the wrong size`);
      running.set(values, offset);
    }
    this.device.queue.writeBuffer(this.runningBuffer, 0, running);
    if (state.momentum) this.device.queue.writeBuffer(this.momentum, 0, this.flatten(state.momentum, 'momentum of'));
    this.first = !state.momentum;
    if (this.prepare.length) this.submit(this.prepare);
  }

  /** Records `dispatches` in passes of DISPATCHES_PER_PASS, submitting all but the last; the encoder is left open. */
  private encode(dispatches: Dispatch[]): GPUCommandEncoder {
    let encoder = this.device.createCommandEncoder();
    for (let start = 0; start < dispatches.length; start += DISPATCHES_PER_PASS) {
      const pass = encoder.beginComputePass();
      for (const d of dispatches.slice(start, start + DISPATCHES_PER_PASS)) encodeDispatch(pass, d);
      pass.end();
      if (start + DISPATCHES_PER_PASS < dispatches.length) {
        this.device.queue.submit([encoder.finish()]);
        encoder = this.device.createCommandEncoder();
      }
    }
    return encoder;
  }

  private submit(dispatches: Dispatch[]): void {
    this.device.queue.submit([this.encode(dispatches).finish()]);
  }

  /** Inference plans: the logits [batch, classes] of a batch. */
  async infer(images: Float32Array): Promise<Float32Array> {
    if (!this.logits) throw new Error('compiled step: infer needs an inference plan');
    if (images.length !== this.imageSize) throw new Error(`compiled inference: expected ${this.imageSize} image values (batch ${this.settings.batchSize}), got ${images.length}`);
    this.device.queue.writeBuffer(this.images, 0, images as Float32Array<ArrayBuffer>);
    const encoder = this.encode(this.dispatches);
    const staging = this.readbacks[0];
    encoder.copyBufferToBuffer(this.logits, 0, staging, 0, this.logits.size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(staging.getMappedRange().slice(0, this.logits.size));
    staging.unmap();
    return logits;
  }

  /**
   * Records one step and returns the buffer its results go to; with `timing`, each dispatch gets a
   * pass of its own that writes its timestamps there.
   */
  record(images: Float32Array, labels: Int32Array, lr: number, timing?: GPUQuerySet): GPUBuffer {
    const batch = this.settings.batchSize;
    if (this.mode !== 'train') throw new Error('compiled step: an inference plan does not train');
    if (images.length !== this.imageSize) throw new Error(`compiled step: expected ${this.imageSize} image values (batch ${batch}), got ${images.length}`);
    if (labels.length !== batch) throw new Error(`compiled step: expected ${batch} labels, got ${labels.length}`);
    for (const label of labels) {
      if (!(label >= 0 && label < this.network.classes)) throw new Error(`compiled step: label ${label} is outside 0..${this.network.classes - 1}`);
    }
    const { queue } = this.device;
    queue.writeBuffer(this.images, 0, images as Float32Array<ArrayBuffer>);
    queue.writeBuffer(this.labels, 0, labels as Int32Array<ArrayBuffer>);
    queue.writeBuffer(this.results, 8, CLEAR_WORD);
    const sgd = new DataView(this.sgdFixed.slice(0));
    sgd.setUint32(12, this.first ? 1 : 0, true);
    sgd.setFloat32(20, lr, true);
    queue.writeBuffer(this.uniforms, this.sgdUniform, sgd.buffer);
    let encoder: GPUCommandEncoder;
    if (timing) {
      encoder = this.device.createCommandEncoder();
      this.dispatches.forEach((d, i) => {
        const pass = encoder.beginComputePass({ timestampWrites: { querySet: timing, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        encodeDispatch(pass, d);
        pass.end();
      });
    } else {
      encoder = this.encode(this.dispatches);
    }
    const readback = this.readbacks[this.nextReadback];
    this.nextReadback = (this.nextReadback + 1) % this.readbacks.length;
    encoder.copyBufferToBuffer(this.results, 0, readback, 0, this.results.size);
    queue.submit([encoder.finish()]);
    this.first = false;
    return readback;
  }

  /**
   * One step: recorded and submitted before this returns (the promise), its loss and predictions
   * read back when the device is done. A second step may be run before the first's promise
   * settles, so that the device never waits for the host; not a third.
   */
  async run(images: Float32Array, labels: Int32Array, lr: number): Promise<CompiledStepResult> {
    const wasFirst = this.first;
    const readback = this.record(images, labels, lr);
    await readback.mapAsync(GPUMapMode.READ);
    const words = new Uint32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    const applied = words[1] === 1;
    // A non-finite statistic can leave a finite-looking loss behind it; the step's loss is then NaN, as the op-by-op step's.
    const loss = words[2] === 1 ? Number.NaN : new Float32Array(words.buffer, 0, 1)[0];
    // The GPU left the update out: the momentum buffers were not started either.
    if (!applied) this.first = wasFirst;
    return { loss, predicted: new Int32Array(words.buffer.slice(12)), applied };
  }

  async profile(images: Float32Array, labels: Int32Array, lr: number): Promise<DispatchTiming[] | null> {
    if (!this.device.features.has('timestamp-query')) return null;
    const count = this.dispatches.length;
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * count });
    const resolved = this.device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    // The step as `record` makes it, but each dispatch in a pass of its own, timed at both ends.
    this.record(images, labels, lr, querySet);
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(querySet, 0, 2 * count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16 * count);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    for (const o of [querySet, resolved, staging]) o.destroy();
    return this.dispatches.map((d, i) => ({
      kernel: d.kernel,
      label: d.label,
      ms: Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6,
      flops: 2 * d.macs,
    }));
  }

  async read(): Promise<NetworkState> {
    const copy = async (source: GPUBuffer, floats: number) => {
      const staging = this.device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(source, 0, staging, 0, floats * 4);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const values = new Float32Array(staging.getMappedRange().slice(0));
      staging.destroy();
      return values;
    };
    const [params, momentum, running] = await Promise.all([copy(this.params, this.total), copy(this.momentum, this.total), copy(this.runningBuffer, this.runningTotal)]);
    const pick = (flat: Float32Array, offsets: Map<string, number>, size: (name: string) => number) =>
      Object.fromEntries([...offsets].map(([name, offset]) => [name, flat.slice(offset, offset + size(name))]));
    return {
      parameters: this.unflatten(params, 'parameter'),
      buffers: pick(running, this.running, (n) => this.runningSizes.get(n)!),
      momentum: this.first ? null : this.unflatten(momentum, 'the momentum of'),
    };
  }

  dispose(): void {
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.length = 0;
  }
}

/** Eval-mode inference planned once and replayed: the forward pass with running statistics, logits out. */
export class WebGpuCompiledInference implements CompiledInference {
  readonly dispatchesPerBatch: number;
  readonly bytes: number;

  constructor(private readonly plan: WebGpuCompiledStep) {
    this.dispatchesPerBatch = plan.dispatchesPerStep;
    this.bytes = plan.bytes;
  }

  load(state: Pick<NetworkState, 'parameters' | 'buffers'>): void {
    this.plan.load({ ...state, momentum: null });
  }

  run(images: Float32Array): Promise<Float32Array> {
    return this.plan.infer(images);
  }

  dispose(): void {
    this.plan.dispose();
  }
}
