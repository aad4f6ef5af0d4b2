import { describe, expect, it } from 'vitest';
import { RECIPES } from './recipes';
import { learningRate } from './schedule';

const policy = (name: string) => {
  const r = RECIPES[name];
  return { baseLr: r.lr, epochs: r.epochs, schedule: r.schedule, warmupEpochs: r.warmupEpochs };
};

describe('learning-rate schedules', () => {
  it('follow the paper: CIFAR-10 0.1, divided by 10 at epochs 150 and 225', () => {
    // Han et al. 2017, Sec. 4.1, by hand: 0.1 until epoch 149, 0.01 from 150, 0.001 from 225.
    const p = policy('paper-cifar10');
    [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001].forEach((lr, i) => expect(learningRate(p, [0, 149, 149.99, 150, 224, 225, 299][i])).toBeCloseTo(lr, 12));
  });

  it('follow the paper: CIFAR-100 starts at 0.5', () => {
    const p = policy('paper-cifar100');
    [0.5, 0.05, 0.005].forEach((lr, i) => expect(learningRate(p, [0, 150, 225][i])).toBeCloseTo(lr, 12));
  });

  it('follow the paper: ImageNet 0.05 for 120 epochs, divided by 10 at 60, 90 and 105', () => {
    const p = policy('paper-imagenet');
    expect(p.epochs).toBe(120);
    [0.05, 0.005, 0.0005, 0.00005].forEach((lr, i) => expect(learningRate(p, [59, 60, 90, 105][i])).toBeCloseTo(lr, 12));
  });

  it('decay by cosine to the minimum, after a linear warm-up', () => {
    // Cosine from 1 over 10 epochs after 2 warm-up epochs: 0.5 at the midpoint of the 8 decay
    // epochs (epoch 6); warm-up reaches half the rate at epoch 1.
    const p = { baseLr: 1, epochs: 10, schedule: { type: 'cosine' as const }, warmupEpochs: 2 };
    expect(learningRate(p, 1)).toBeCloseTo(0.5, 12);
    expect(learningRate(p, 2)).toBeCloseTo(1, 12);
    expect(learningRate(p, 6)).toBeCloseTo(0.5, 12);
    expect(learningRate(p, 10)).toBeCloseTo(0, 12);
  });

  it('use SGD with Nesterov momentum 0.9, weight decay 1e-4 and batch 128 in the paper recipes', () => {
    for (const name of ['paper-cifar10', 'paper-cifar100', 'paper-imagenet']) {
      const r = RECIPES[name];
      expect([r.momentum, r.nesterov, r.dampening, r.weightDecay, r.batchSize]).toEqual([0.9, true, 0, 1e-4, 128]);
    }
  });
});
