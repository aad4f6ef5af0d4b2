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

/**
 * How an image of any size becomes a model input of `shape`, the same in evaluation, prediction
 * and the web page. 'center-crop': the shorter side resized to `resize` (PIL's bilinear with
 * antialiasing), then the centre at the model's size, as torchvision's Resize(resize) and
 * CenterCrop do; an image already at the model's size is taken as it is. 'stretch': resized to the
 * model's size, the aspect ratio not kept.
 */
export type Preprocessing = { kind: 'center-crop'; resize: number } | { kind: 'stretch' };

/** What a model expects as input, stored with every checkpoint. */
export interface InputSpec {
  shape: ImageShape;
  normalization: Normalization;
  classNames: string[];
  /** Absent in checkpoints written before it was recorded: those centre-crop at the model's size. */
  preprocessing?: Preprocessing;
}

/** The preprocessing `input` records, else that of its checkpoint's time: centre crop at the model's size. */
export function inputPreprocessing(input: Pick<InputSpec, 'shape' | 'preprocessing'>): Preprocessing {
  return input.preprocessing ?? { kind: 'center-crop', resize: Math.max(input.shape.height, input.shape.width) };
}
