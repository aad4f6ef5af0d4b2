import * as tf from '@tensorflow/tfjs-core';
import { DecodePool, type TrainingData, dataSize, epochBatches } from '@pyramid/datasets';
import { type CompiledInference, type Normalization, compileInference } from '@pyramid/core';
import { type PyramidNet, describeNetwork, readNetworkState } from '@pyramid/pyramidnet';
import { crossEntropy, topKHits } from './loss';

export interface Evaluation {
  images: number;
  loss: number;
  top1: number;
  top5: number;
  /** The paper reports error rates: 1 - accuracy, in percent. */
  top1Error: number;
  top5Error: number;
  perClass: { name: string; images: number; accuracy: number }[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

export interface EvaluateOptions {
  batchSize?: number;
  normalization?: Normalization;
  /** Decoding threads for image files (one is made when absent). */
  pool?: DecodePool;
  onBatch?: (done: number, total: number) => void;
  /** Let the backend compile eval-mode inference (default true; WebGPU plans it once per batch size). */
  compile?: boolean;
}

/**
 * Logits of batches of any size: compiled by the backend where it can (one plan per batch size,
 * the weights uploaded once each), else the model's own eval-mode forward pass.
 */
class Logits {
  private readonly plans = new Map<number, CompiledInference | null>();
  private state: ReturnType<typeof readNetworkState> | null = null;

  constructor(
    private readonly model: PyramidNet,
    private readonly compile: boolean,
  ) {}

  async of(images: Float32Array, size: number): Promise<tf.Tensor2D> {
    const plan = await this.plan(size);
    if (plan) return tf.tensor2d(await plan.run(images), [size, this.model.architecture.classes]);
    const { height, width, channels } = this.model.architecture.input;
    return tf.tidy(() => this.model.predict(tf.tensor4d(images, [size, height, width, channels])));
  }

  private async plan(size: number): Promise<CompiledInference | null> {
    if (!this.compile) return null;
    if (!this.plans.has(size)) {
      const planned = await compileInference(describeNetwork(this.model), size);
      const plan = 'unsupported' in planned ? null : planned;
      if (plan) plan.load(await (this.state ??= readNetworkState(this.model)));
      this.plans.set(size, plan);
    }
    return this.plans.get(size)!;
  }

  dispose(): void {
    for (const plan of this.plans.values()) plan?.dispose();
  }
}

/** Eval-mode metrics of `model` on a whole dataset: loss, top-1/top-5, per class, confusion. */
export async function evaluate(model: PyramidNet, dataset: TrainingData, options: EvaluateOptions = {}): Promise<Evaluation> {
  const classes = model.architecture.classes;
  const names = dataset.classNames;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let hits1 = 0;
  let hits5 = 0;
  let seen = 0;
  const total = dataSize(dataset);
  const logitsOf = new Logits(model, options.compile !== false);
  const pool = options.pool ?? (await DecodePool.create('files' in dataset ? (await import('node:os')).availableParallelism() : 1));
  for await (const batch of epochBatches(dataset, { batchSize: options.batchSize ?? 256, augment: 'none', normalization: options.normalization, pool })) {
    const logits = await logitsOf.of(batch.images, batch.size);
    const labels = tf.tensor1d(batch.labels, 'int32');
    const loss = crossEntropy(logits, labels);
    const [lossValue, values] = (await Promise.all([loss.data(), logits.data()])) as [Float32Array, Float32Array];
    lossSum += lossValue[0] * batch.size;
    const top1 = topKHits(values, batch.labels, classes, 1);
    const top5 = topKHits(values, batch.labels, classes, Math.min(5, classes));
    for (let i = 0; i < batch.size; i++) {
      const row = values.subarray(i * classes, (i + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
      confusion[batch.labels[i]][best]++;
      if (top1[i]) hits1++;
      if (top5[i]) hits5++;
    }
    tf.dispose([logits, labels, loss]);
    seen += batch.size;
    options.onBatch?.(seen, total);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  logitsOf.dispose();
  if (!options.pool) await pool.close();
  const perClass = confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return { name: names[c] ?? String(c), images: n, accuracy: n ? row[c] / n : 0 };
  });
  const top1 = seen ? hits1 / seen : 0;
  const top5 = seen ? hits5 / seen : 0;
  return {
    images: seen,
    loss: seen ? lossSum / seen : 0,
    top1,
    top5,
    top1Error: 100 * (1 - top1),
    top5Error: 100 * (1 - top5),
    perClass,
    confusion,
  };
}
