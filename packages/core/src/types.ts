/** Shapes and conventions shared by the model, the datasets and the CLI. */

/** Height, width and channels of one input image, in the NHWC layout used throughout. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/**
 * How raw pixels become model input: x' = (x / scale - mean) / std per channel. `scale` is 1 when
 * mean and std are given on 0-255 pixels (the CIFAR convention of the reference code) and 255 when
 * they are given on 0-1 pixels (the ImageNet convention).
 */
export interface Normalization {
  mean: number[];
  std: number[];
  scale: 1 | 255;
}

/** What a model expects as input, stored with every checkpoint. */
export interface InputSpec {
  shape: ImageShape;
  normalization: Normalization;
  classNames: string[];
}
