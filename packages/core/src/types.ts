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

/**
 * The CIFAR normalisation of the reference PyTorch code, on 0-255 pixels, used for CIFAR-10 and
 * CIFAR-100 alike.
 */
export const CIFAR_NORMALIZATION: Normalization = {
  mean: [125.3, 123.0, 113.9],
  std: [63.0, 62.1, 66.7],
  scale: 1,
};

/** The usual ImageNet normalisation, on 0-1 pixels. */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  scale: 255,
};

/** MNIST's customary normalisation (0.1307, 0.3081 on 0-1 pixels), here on 0-255. */
export const MNIST_NORMALIZATION: Normalization = { mean: [0.1307 * 255], std: [0.3081 * 255], scale: 1 };

/** Fashion-MNIST's customary normalisation (0.2860, 0.3530 on 0-1 pixels), here on 0-255. */
export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286 * 255], std: [0.353 * 255], scale: 1 };

/** The normalisation a model trained on `dataset` expects, for the datasets the project knows. */
export function datasetNormalization(dataset: string): Normalization | null {
  switch (dataset) {
    case 'cifar10':
    case 'cifar100':
      return CIFAR_NORMALIZATION;
    case 'imagenet':
      return IMAGENET_NORMALIZATION;
    case 'mnist':
    case 'mnist-sample':
      return MNIST_NORMALIZATION;
    case 'fashion-mnist':
      return FASHION_MNIST_NORMALIZATION;
    default:
      return null;
  }
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
