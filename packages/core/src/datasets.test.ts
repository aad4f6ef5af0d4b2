import { describe, expect, it } from 'vitest';
import { DATASETS, DATASET_NAMES, datasetForModel, findDataset } from './datasets';

// Facts stated by the datasets' publishers and by widely used reference code, written out here
// rather than read from the table.
describe('the dataset table', () => {
  it('has the published image shapes and class counts', () => {
    const published: Record<string, [height: number, width: number, channels: number, classes: number]> = {
      cifar10: [32, 32, 3, 10], // Krizhevsky 2009, the CIFAR page
      cifar100: [32, 32, 3, 100],
      imagenet: [224, 224, 3, 1000], // ILSVRC-2012 classes at the paper's 224 crop
      mnist: [28, 28, 1, 10], // LeCun et al., the MNIST page
      'fashion-mnist': [28, 28, 1, 10], // Xiao et al. 2017
    };
    expect(Object.keys(published).sort()).toEqual([...DATASET_NAMES].sort());
    for (const [name, [height, width, channels, classes]] of Object.entries(published)) {
      const entry = findDataset(name)!;
      expect(entry.shape, name).toEqual({ height, width, channels });
      expect(entry.classes, name).toBe(classes);
      if (entry.classNames) expect(entry.classNames, name).toHaveLength(classes);
      expect(entry.normalization.mean, name).toHaveLength(channels);
      expect(entry.normalization.std, name).toHaveLength(channels);
    }
  });

  it("normalises CIFAR with the per-channel statistics published for CIFAR-10's training set", () => {
    // Mean and std over the 50,000 training images, on 0-1 pixels, as torchvision examples quote
    // them; the reference code's 0-255 constants agree to within rounding of its one decimal.
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    for (const name of ['cifar10', 'cifar100'] as const) {
      const { normalization } = DATASETS[name];
      expect(normalization.scale).toBe(1);
      normalization.mean.forEach((m, c) => expect(Math.abs(m / 255 - mean[c])).toBeLessThan(5e-4));
      normalization.std.forEach((s, c) => expect(Math.abs(s / 255 - std[c])).toBeLessThan(5e-4));
    }
  });

  it('normalises ImageNet, MNIST and Fashion-MNIST with their customary constants', () => {
    const on01 = (name: keyof typeof DATASETS) => {
      const { mean, std, scale } = DATASETS[name].normalization;
      const toUnit = scale === 255 ? 1 : 1 / 255;
      return { mean: mean.map((m) => m * toUnit), std: std.map((s) => s * toUnit) };
    };
    const close = (actual: number[], expected: number[]) => actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], 6));
    close(on01('imagenet').mean, [0.485, 0.456, 0.406]);
    close(on01('imagenet').std, [0.229, 0.224, 0.225]);
    close(on01('mnist').mean, [0.1307]);
    close(on01('mnist').std, [0.3081]);
    close(on01('fashion-mnist').mean, [0.286]);
    close(on01('fashion-mnist').std, [0.353]);
  });

  it('names the classes in the label order of the published files', () => {
    // CIFAR-10's batches.meta and Fashion-MNIST's README.
    expect(DATASETS.cifar10.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(DATASETS['fashion-mnist'].classNames?.[0]).toBe('T-shirt/top');
    expect(DATASETS['fashion-mnist'].classNames?.[9]).toBe('Ankle boot');
    expect(DATASETS.mnist.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('lays out ImageNet models with the ImageNet stem and every other dataset with the CIFAR one', () => {
    expect(DATASET_NAMES.filter((n) => DATASETS[n].layout === 'imagenet')).toEqual(['imagenet']);
  });

  it('knows no dataset by an unknown name, nor by an inherited property name', () => {
    expect(findDataset('svhn')).toBeNull();
    expect(findDataset('toString')).toBeNull();
  });

  it("gives a model without a dataset the normalisation of the first dataset of its layout and channels", () => {
    expect(datasetForModel('cifar', 3)?.title).toBe('CIFAR-10');
    expect(datasetForModel('cifar', 1)?.title).toBe('MNIST');
    expect(datasetForModel('imagenet', 3)?.title).toBe('ImageNet');
    expect(datasetForModel('cifar', 4)).toBeNull();
  });
});
