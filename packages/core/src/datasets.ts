import type { ImageShape, Normalization, Preprocessing } from './types';

/**
 * What the project knows of a dataset: the images it holds, how they are normalised, and how a
 * model for it is laid out and trained by default.
 */
export interface DatasetDefaults {
  /** The name people write, e.g. 'CIFAR-10'. */
  title: string;
  /** One image, and the input of a model for the dataset. */
  shape: ImageShape;
  classes: number;
  /** Class names in label order, or null where they are read from the dataset's own files. */
  classNames: string[] | null;
  normalization: Normalization;
  /** How an image file of another size becomes an input (evaluation, prediction). */
  preprocessing: Preprocessing;
  /** The PyramidNet layout: 3x3 stem and three stages ('cifar'), or the 7x7 stem and four ('imagenet'). */
  layout: 'cifar' | 'imagenet';
  /** The training recipe (a name of `@pyramid/train`'s RECIPES) used when none is named. */
  recipe: string;
  /** The augmentation that goes with the default recipe. */
  augment: 'cifar' | 'imagenet' | 'none';
}

// The reference PyTorch code normalises CIFAR-10 and CIFAR-100 alike, on 0-255 pixels.
const CIFAR_NORMALIZATION: Normalization = { mean: [125.3, 123.0, 113.9], std: [63.0, 62.1, 66.7], scale: 1 };

const TABLE = {
  cifar10: {
    title: 'CIFAR-10',
    shape: { height: 32, width: 32, channels: 3 },
    classes: 10,
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    normalization: CIFAR_NORMALIZATION,
    preprocessing: { kind: 'center-crop', resize: 32 },
    layout: 'cifar',
    recipe: 'paper-cifar10',
    augment: 'cifar',
  },
  cifar100: {
    title: 'CIFAR-100',
    shape: { height: 32, width: 32, channels: 3 },
    classes: 100,
    classNames: null,
    normalization: CIFAR_NORMALIZATION,
    preprocessing: { kind: 'center-crop', resize: 32 },
    layout: 'cifar',
    recipe: 'paper-cifar100',
    augment: 'cifar',
  },
  imagenet: {
    title: 'ImageNet',
    shape: { height: 224, width: 224, channels: 3 },
    classes: 1000,
    classNames: null,
    // The usual ImageNet constants, on 0-1 pixels.
    normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 255 },
    // The paper's evaluation (after the ResNet recipe): the shorter side to 256, the centre 224x224.
    preprocessing: { kind: 'center-crop', resize: 256 },
    layout: 'imagenet',
    recipe: 'paper-imagenet',
    augment: 'imagenet',
  },
  mnist: {
    title: 'MNIST',
    shape: { height: 28, width: 28, channels: 1 },
    classes: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    // The customary 0.1307 and 0.3081 of 0-1 pixels, here on 0-255.
    normalization: { mean: [0.1307 * 255], std: [0.3081 * 255], scale: 1 },
    preprocessing: { kind: 'center-crop', resize: 28 },
    layout: 'cifar',
    recipe: 'quick',
    augment: 'none',
  },
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    shape: { height: 28, width: 28, channels: 1 },
    classes: 10,
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    // The customary 0.2860 and 0.3530 of 0-1 pixels, here on 0-255.
    normalization: { mean: [0.286 * 255], std: [0.353 * 255], scale: 1 },
    preprocessing: { kind: 'center-crop', resize: 28 },
    layout: 'cifar',
    recipe: 'quick',
    augment: 'none',
  },
} satisfies Record<string, DatasetDefaults>;

export type DatasetName = keyof typeof TABLE;

/** Every dataset the project loads by name. Adding one is an entry here and its loader. */
export const DATASETS: Readonly<Record<DatasetName, DatasetDefaults>> = TABLE;

export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/**
 * Image folders and archives: shape and classes come from the images and the folder names, and
 * the images are normalised by their own measured mean and std unless the paper's CIFAR or ImageNet
 * constants are asked for. Images of another size than the model's are resized on the shorter side
 * and centre-cropped ('center-crop', the shorter side to the model's larger side) unless stretching
 * is asked for.
 */
export const IMAGE_FOLDER_DEFAULTS: Readonly<Pick<DatasetDefaults, 'recipe' | 'augment'> & { normalization: 'measured' | 'cifar' | 'imagenet'; preprocessing: Preprocessing['kind'] }> = {
  normalization: 'measured',
  preprocessing: 'center-crop',
  recipe: 'quick',
  augment: 'none',
};

/** The table entry of `name`, or null for a name the project does not know. */
export function findDataset(name: string): DatasetDefaults | null {
  return Object.hasOwn(DATASETS, name) ? DATASETS[name as DatasetName] : null;
}

/** The dataset whose entry a model of this layout and input channels follows by default, if any. */
export function datasetForModel(layout: 'cifar' | 'imagenet', channels: number): DatasetDefaults | null {
  return Object.values(DATASETS).find((d) => d.layout === layout && d.shape.channels === channels) ?? null;
}
