import { Rng } from '@pyramid/core';
import { type EpochOptions, type TrainingData, epochBatches } from './epoch';
import { DecodePool } from './image/pool';

export interface PipelineResult {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  threads: number;
}

/**
 * Images per second that the input pipeline delivers as training-ready batches (decoded, augmented,
 * normalised), with nothing consuming them: the rate a training step must not exceed for the
 * pipeline to keep ahead.
 */
export async function benchmarkPipeline(
  data: TrainingData,
  options: { batchSize: number; batches: number; augment: EpochOptions['augment']; threads: number },
): Promise<PipelineResult> {
  const pool = await DecodePool.create(options.threads);
  const root = Rng.fromSeed(0);
  let images = 0;
  const start = performance.now();
  try {
    let count = 0;
    for await (const batch of epochBatches(data, {
      batchSize: options.batchSize,
      augment: options.augment,
      rng: root.fork('shuffle'),
      transformRng: (i) => root.fork(`augment/${i}`),
      pool,
    })) {
      images += batch.size;
      if (++count >= options.batches) break;
    }
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return { images, seconds, imagesPerSecond: images / seconds, threads: Math.max(1, pool.threads) };
}
