import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_TRAINING, type BatchNormAttrs, type BatchNormTrainingInputs, KernelOverlay, Rng, useBackend } from '@pyramid/core';
import type { Check } from './suite';

/** The smallest distances from a branch point that a check's inputs reach; see `Check.seed`. */
export interface KinkMargins {
  /** min |x| over every ReLU input whose gradient is taken, fused into batch norm or not. */
  relu: number;
  /** min (largest - runner-up) over the max-pool windows, positive maxima only, whose gradient is taken. */
  maxPool: number;
}

function reluMarginOfBatchNorm(x: Float32Array, params: Float32Array, channels: number, epsilon: number): number {
  const rows = x.length / channels;
  let margin = Infinity;
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += x[r * channels + c];
    mean /= rows;
    let variance = 0;
    for (let r = 0; r < rows; r++) variance += (x[r * channels + c] - mean) ** 2;
    variance /= rows;
    const scale = params[c] / Math.sqrt(variance + epsilon);
    for (let r = 0; r < rows; r++) margin = Math.min(margin, Math.abs((x[r * channels + c] - mean) * scale + params[channels + c]));
  }
  return margin;
}

function maxPoolMargin(x: Float32Array, shape: number[], info: tf.backend_util.Conv2DInfo): number {
  const [batch, height, width, channels] = shape;
  let margin = Infinity;
  for (let n = 0; n < batch; n++)
    for (let oh = 0; oh < info.outHeight; oh++)
      for (let ow = 0; ow < info.outWidth; ow++)
        for (let c = 0; c < channels; c++) {
          let first = -Infinity;
          let second = -Infinity;
          for (let i = 0; i < info.filterHeight; i++)
            for (let j = 0; j < info.filterWidth; j++) {
              const h = oh * info.strideHeight - info.padInfo.top + i;
              const w = ow * info.strideWidth - info.padInfo.left + j;
              if (h < 0 || w < 0 || h >= height || w >= width) continue;
              const v = x[((n * height + h) * width + w) * channels + c];
              if (v > first) [first, second] = [v, first];
              else if (v > second) second = v;
            }
          if (first > 0 && second > -Infinity) margin = Math.min(margin, first - second);
        }
  return margin;
}

/**
 * Runs `work` on the CPU backend with the project kernels and measures how close its ReLU inputs
 * come to zero and its max-pool maxima to their runner-ups, in float64 from the float32 values
 * each kernel received. Forward-only calls (eval-mode logits) are left out: ReLU and max are
 * continuous, only their gradients jump.
 */
export async function observedKinkMargins(work: () => Promise<void>): Promise<KinkMargins> {
  await useBackend('cpu', { kernels: 'project' });
  const backend = tf.backend();
  const read = (t: tf.TensorInfo) => backend.readSync(t.dataId) as Float32Array;
  const margins: KinkMargins = { relu: Infinity, maxPool: Infinity };
  const observers: Record<string, (args: tf.KernelConfig['kernelFunc'] extends (a: infer A) => unknown ? A : never) => void> = {
    [BATCH_NORM_TRAINING]: ({ inputs, attrs }) => {
      const { x, params } = inputs as unknown as BatchNormTrainingInputs;
      const { relu, epsilon } = attrs as unknown as BatchNormAttrs;
      if (relu) margins.relu = Math.min(margins.relu, reluMarginOfBatchNorm(read(x), read(params), x.shape[x.shape.length - 1], epsilon));
    },
    Relu: ({ inputs }) => {
      for (const v of read((inputs as { x: tf.TensorInfo }).x)) margins.relu = Math.min(margins.relu, Math.abs(v));
    },
    MaxPool: ({ inputs, attrs }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
      const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
      margins.maxPool = Math.min(margins.maxPool, maxPoolMargin(read(x), x.shape, info));
    },
  };
  const overlay = new KernelOverlay('cpu');
  overlay.install(
    Object.entries(observers).map(([name, observe]) => ({
      kernelName: name,
      kernelFunc: (args) => {
        if (tf.engine().state.gradientDepth > 0) observe(args);
        return overlay.original(name)(args);
      },
    })),
  );
  try {
    await work();
  } finally {
    overlay.restore();
  }
  return margins;
}

/** The margins (observedKinkMargins) of `check` with the inputs drawn from `seed`. */
export function kinkMargins(check: Check, seed: number): Promise<KinkMargins> {
  return observedKinkMargins(async () => {
    const inputs = check.inputs(Rng.fromSeed(seed).fork(check.name));
    const outputs = tf.tidy(() => check.run(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]))));
    tf.dispose(Object.values(outputs));
  });
}
