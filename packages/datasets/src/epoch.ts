import type { ImageShape, Normalization, Rng } from '@pyramid/core';
import { type Batch, batches } from './batches';
import type { ImageDataset } from './dataset';
import { cifarAugmentation } from './augment';
import type { DecodePool } from './image/pool';
import { imagenetEvalSpec, imagenetTrainSpec, preprocessingSpec } from './image/transforms';
import { type ImageFileDataset, streamBatches } from './stream';

/** What a trainer or an evaluation reads: images in memory, or image files decoded on the fly. */
export type TrainingData = ImageDataset | ImageFileDataset;

export function isFileDataset(data: TrainingData): data is ImageFileDataset {
  return 'files' in data;
}

export function dataSize(data: TrainingData): number {
  return isFileDataset(data) ? data.files.length : data.labels.length;
}

export function dataShape(data: TrainingData): ImageShape {
  return data.shape;
}

export interface EpochOptions {
  batchSize: number;
  /** 'cifar': pad-and-crop and flip (in-memory data); 'imagenet': random-resized crop, flip, jitter, lighting (files). */
  augment: 'cifar' | 'imagenet' | 'none';
  /** Shuffles with this stream; in order without it. */
  rng?: Rng;
  /** The augmentation stream of batch `index`. */
  transformRng?: (index: number) => Rng;
  dropLast?: boolean;
  skip?: number;
  normalization?: Normalization;
  /** Decoding threads for image files. */
  pool?: DecodePool;
  skipBad?: boolean;
}

/**
 * One epoch of batches from either kind of data. Image files are decoded on the pool's threads
 * while earlier batches train; without augmentation they are brought to the dataset's size as its
 * preprocessing says (by default resized on the shorter side and centre-cropped, as ImageNet
 * evaluation does).
 */
export async function* epochBatches(data: TrainingData, options: EpochOptions): AsyncGenerator<Batch> {
  if (isFileDataset(data)) {
    if (!options.pool) throw new Error('image files need a decoding pool');
    const size = data.shape.height;
    yield* streamBatches(data, {
      batchSize: options.batchSize,
      rng: options.rng,
      dropLast: options.dropLast,
      skip: options.skip,
      transform: options.augment === 'imagenet' ? imagenetTrainSpec(size) : data.preprocessing ? preprocessingSpec(data.preprocessing, data.shape) : imagenetEvalSpec(size),
      transformRng: options.augment === 'imagenet' ? options.transformRng : undefined,
      normalization: options.normalization,
      pool: options.pool,
      skipBad: options.skipBad,
    });
    return;
  }
  yield* batches(data, {
    batchSize: options.batchSize,
    rng: options.rng,
    dropLast: options.dropLast,
    skip: options.skip,
    transform: options.augment === 'cifar' ? cifarAugmentation() : undefined,
    transformRng: options.transformRng,
    normalization: options.normalization,
  });
}
