export {
  type ImageDataset,
  datasetSize,
  validateDataset,
  channelStatistics,
  subset,
  stratifiedSplit,
} from './dataset';
export { mnistSample } from './mnist-sample';
export { batches, normalizeInto, type Batch, type BatchOptions } from './batches';
export { type ImageTransform, randomCrop, randomHorizontalFlip, compose, cifarAugmentation } from './augment';
export { readNpy, writeNpy, type NpyArray } from './npy';
