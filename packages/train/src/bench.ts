import * as tf from '@tensorflow/tfjs-core';
import { type CompiledInference, Rng, compileInference } from '@pyramid/core';
import { type PyramidNet, describeNetwork, readNetworkState, summarize } from '@pyramid/pyramidnet';
import { RECIPES } from './recipes';
import { type StepSettings, TrainingStep } from './step';

export interface ThroughputResult {
  batchSize: number;
  steps: number;
  msPerStep: number;
  imagesPerSecond: number;
  /** Achieved rate against the multiply-accumulates done (2 FLOPs each). */
  gflops: number;
}

export interface BenchmarkResult {
  train: ThroughputResult;
  inference: ThroughputResult | null;
  /** Peak bytes held by the backend during one profiled training step (a compiled step: the memory it holds). */
  peakBytes: number;
  /** How the timed steps ran: compiled by the backend, or op by op (and why). */
  stepMode: { compiled: true; dispatchesPerStep: number } | { compiled: false; reason: string };
  /** The kernels of one profiled training step, by total time. */
  kernels: { name: string; ms: number; calls: number }[];
  /**
   * The convolutions' device time and rate in one profiled compiled step, by direction (forward,
   * input gradient, filter gradient); null where the step is not compiled or the device cannot time.
   */
  convolutions: Record<'forward' | 'inputGrad' | 'filterGrad', { ms: number; tflops: number }> | null;
}

export interface BenchmarkOptions {
  batchSize: number;
  steps: number;
  warmupSteps: number;
  inference: boolean;
  seed?: number;
  /** Loss and optimizer settings of the timed step (default: the paper's CIFAR-10 recipe). */
  settings?: StepSettings;
  /** Let the backend compile the step (default true), as the trainer does. */
  compile?: boolean;
}

/** The learning rate of the timed steps: small, so that random data does not drive them to NaN. */
const BENCH_LR = 0.01;

/**
 * Times the trainer's own step (`TrainingStep`: forward, loss, backward, the finite-loss check and
 * SGD, on random data) and eval-mode inference of `model`. A training step does about three times
 * the forward pass's multiply-accumulates (forward, input gradients, weight gradients).
 */
export async function benchmarkModel(model: PyramidNet, options: BenchmarkOptions): Promise<BenchmarkResult> {
  const { height, width, channels } = model.architecture.input;
  const classes = model.architecture.classes;
  const { batchSize } = options;
  const rng = Rng.fromSeed(options.seed ?? 0).fork('bench');
  const batch = {
    images: rng.fillNormal(new Float32Array(batchSize * height * width * channels)),
    labels: Int32Array.from({ length: batchSize }, () => rng.int(classes)),
    size: batchSize,
  };
  const x = tf.tensor4d(batch.images, [batchSize, height, width, channels]);
  const step = new TrainingStep(model, options.settings ?? RECIPES['paper-cifar10']);
  const notCompiled = options.compile === false ? 'compiling was turned off' : await step.compile(batchSize);
  const macs = summarize(model).macs;
  // The step reads its loss back before the update, which waits for a GPU backend to finish it.
  const trainStep = async () => {
    await step.run(batch, BENCH_LR, rng);
  };
  // Inference as the backend runs it best: compiled where it can (eval mode, weights uploaded once).
  let compiledInference: CompiledInference | null = null;
  if (options.inference && options.compile !== false) {
    const planned = await compileInference(describeNetwork(model), batchSize);
    if (!('unsupported' in planned)) {
      compiledInference = planned;
      compiledInference.load(await readNetworkState(model));
    }
  }
  const inferStep = async () => {
    if (compiledInference) {
      await compiledInference.run(batch.images);
      return;
    }
    const logits = model.predict(x);
    await logits.data();
    logits.dispose();
  };
  const time = async (fn: () => Promise<void>): Promise<ThroughputResult> => {
    for (let i = 0; i < options.warmupSteps; i++) await fn();
    const start = performance.now();
    for (let i = 0; i < options.steps; i++) await fn();
    const ms = (performance.now() - start) / options.steps;
    return { batchSize, steps: options.steps, msPerStep: ms, imagesPerSecond: (batchSize * 1000) / ms, gflops: 0 };
  };
  const train = await time(trainStep);
  train.gflops = (2 * 3 * macs * batchSize) / (train.msPerStep * 1e6);
  let inference: ThroughputResult | null = null;
  if (options.inference) {
    inference = await time(inferStep);
    inference.gflops = (2 * macs * batchSize) / (inference.msPerStep * 1e6);
  }
  const compiled = notCompiled === null ? step.compiledStep() : null;
  // A compiled step runs no tfjs kernels: it times its own dispatches on the device.
  const timings = compiled?.profile ? await compiled.profile(batch.images, batch.labels, BENCH_LR) : null;
  const profile = compiled
    ? { kernels: (timings ?? []).map((t) => ({ name: t.kernel, kernelTimeMs: t.ms })), peakBytes: compiled.bytes }
    : await tf.profile(async () => {
        await trainStep();
      });
  let convolutions: BenchmarkResult['convolutions'] = null;
  if (timings) {
    const direction = (kernel: string) => {
      const of = timings.filter((t) => t.kernel === kernel);
      const ms = of.reduce((n, t) => n + t.ms, 0);
      return { ms, tflops: of.reduce((n, t) => n + t.flops, 0) / (ms * 1e9) };
    };
    convolutions = { forward: direction('convForward'), inputGrad: direction('convBackwardData'), filterGrad: direction('convBackwardFilter') };
  }
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels as { name: string; kernelTimeMs: unknown }[]) {
    const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls++;
    byName.set(k.name, entry);
  }
  x.dispose();
  step.dispose();
  compiledInference?.dispose();
  return {
    train,
    inference,
    stepMode: compiled ? { compiled: true, dispatchesPerStep: compiled.dispatchesPerStep } : { compiled: false, reason: notCompiled! },
    peakBytes: profile.peakBytes,
    convolutions,
    kernels: [...byName].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms),
  };
}

export interface ConvShape {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: number;
}

export interface ConvKernelResult extends ConvShape {
  macs: number;
  forwardGflops: number;
  inputGradGflops: number;
  filterGradGflops: number;
}

/**
 * GFLOP/s of the three convolution kernels (forward, input gradient, filter gradient) on one shape,
 * from the median call. Synchronous kernels only (the CPU backend): a GPU call returns before the
 * work is done.
 */
export function benchmarkConv(shape: ConvShape, minSeconds = 0.3): ConvKernelResult {
  const { batch, height, width, inChannels, outChannels, kernel, stride, pad } = shape;
  const rng = Rng.fromSeed(1);
  const random = (dims: number[]) => tf.tensor(rng.fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1))), dims);
  const x = random([batch, height, width, inChannels]);
  const filter = random([kernel, kernel, inChannels, outChannels]);
  const oh = Math.floor((height + 2 * pad - kernel) / stride) + 1;
  const ow = Math.floor((width + 2 * pad - kernel) / stride) + 1;
  const dy = random([batch, oh, ow, outChannels]);
  const macs = batch * oh * ow * kernel * kernel * inChannels * outChannels;
  const attrs = { strides: stride, pad, dataFormat: 'NHWC', dilations: 1 };
  const e = tf.engine();
  // Times each call, at least 5 and for at least `minSeconds`, and takes the median: small layers
  // take milliseconds, and one call caught by garbage collection or another process must not
  // stand for the kernel.
  const rate = (run: () => tf.Tensor) => {
    run().dispose();
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 5 || performance.now() - start < minSeconds * 1000) {
      const t0 = performance.now();
      run().dispose();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return (2 * macs) / (times[times.length >> 1] * 1e6);
  };
  const result = {
    ...shape,
    macs,
    forwardGflops: rate(() => e.runKernel('Conv2D', { x, filter }, attrs) as tf.Tensor),
    inputGradGflops: rate(() => e.runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: x.shape }) as tf.Tensor),
    filterGradGflops: rate(() => e.runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: filter.shape }) as tf.Tensor),
  };
  tf.dispose([x, filter, dy]);
  return result;
}

/** The distinct convolution shapes of a model at a batch size, in order of first use. */
export function convShapes(model: PyramidNet, batch: number): ConvShape[] {
  const seen = new Map<string, ConvShape>();
  for (const { input, inChannels, outChannels, kernelSize, stride, padding } of model.geometry.convs) {
    const shape = { batch, height: input[0], width: input[1], inChannels, outChannels, kernel: kernelSize, stride, pad: padding };
    seen.set(JSON.stringify(shape), shape);
  }
  return [...seen.values()];
}
