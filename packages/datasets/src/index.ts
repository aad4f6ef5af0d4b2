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
export { type BatchTransform, cutout, mixup, cutMix, composeBatch } from './mix';
export { readNpy, writeNpy, type NpyArray } from './npy';
export { cifar10Archive, cifar100Archive, loadCifar, parseCifarRecords, writeCifarRecords, type CifarArchive, type CifarOptions } from './cifar';
export { download, dataCacheDir, md5OfFile, DownloadUnreachableError, type DownloadOptions } from './download';
export { readTar, writeTar, fileChunks, type TarEntry } from './archive/tar';
export { readIdx, writeIdx, loadIdxDataset, DEBIAN_FASHION_MNIST_DIR, MAX_IDX_BYTES, type IdxArray } from './idx';
export { decodeImage, decodeImageJs, imageDecoder, inspectImage, encodePng, encodeJpeg, imageFormat, MAX_IMAGE_PIXELS, type RasterImage } from './image/decode';
export { resizeBilinear, resizeShorterSide, resizeCenterCrop, shorterSideSize, centerCrop, crop, roundHalfEven, type ImageWindow } from './image/resize';
export { loadImageFolder, listImageFolder, listImageArchive, archiveSplits, inspectImageFolder, imageDatasetFromFiles, IMAGE_EXTENSIONS, type ImageFile, type ImageFolderOptions } from './image-folder';
export { streamBatches, imageFileDataset, imagenetDataset, type ImageFileDataset, type StreamOptions } from './stream';
export { DecodePool, type DecodeItem, type DecodeResult } from './image/pool';
export {
  applyTransform,
  randomResizedCrop,
  randomResizedCropBox,
  horizontalFlip,
  colorJitter,
  pcaLighting,
  imagenetTrainSpec,
  imagenetEvalSpec,
  preprocessingSpec,
  preprocessImage,
  UniformTape,
  UNIFORMS_PER_IMAGE,
  type TransformSpec,
  type RandomSource,
} from './image/transforms';
export { epochBatches, isFileDataset, dataSize, dataShape, type TrainingData, type EpochOptions } from './epoch';
export { benchmarkPipeline, type PipelineResult } from './bench';
