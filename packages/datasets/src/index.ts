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
