import { ConfigError } from '@pyramid/core';

/**
 * Learning rate as a function of training progress. `epoch` is fractional (epoch + step / steps
 * per epoch) so that warm-up and cosine move every step; step decay changes at epoch boundaries,
 * as torch's MultiStepLR stepped once per epoch does.
 */
export type LrSchedule =
  | { type: 'step'; milestones: number[]; gamma: number }
  | { type: 'cosine'; minLr?: number }
  | { type: 'constant' };

export interface LrPolicy {
  baseLr: number;
  epochs: number;
  schedule: LrSchedule;
  /** Linear warm-up from 0 over this many epochs (0: none). */
  warmupEpochs?: number;
}

export function validateLrPolicy(policy: LrPolicy): void {
  if (!(policy.baseLr > 0)) throw new ConfigError(`learning rate must be positive, got ${policy.baseLr}`);
  if (!Number.isInteger(policy.epochs) || policy.epochs < 1) throw new ConfigError(`epochs must be a positive integer, got ${policy.epochs}`);
  const s = policy.schedule;
  if (s.type === 'step') {
    if (!(s.gamma > 0 && s.gamma <= 1)) throw new ConfigError(`step decay factor must be in (0, 1], got ${s.gamma}`);
    if (s.milestones.some((m) => !Number.isInteger(m) || m < 1)) throw new ConfigError(`milestones must be positive epoch numbers, got ${s.milestones.join(', ')}`);
  }
  if ((policy.warmupEpochs ?? 0) < 0) throw new ConfigError(`warm-up epochs must be non-negative, got ${policy.warmupEpochs}`);
}

/** The learning rate at (fractional) epoch `t`, counted from 0. */
export function learningRate(policy: LrPolicy, t: number): number {
  const { baseLr, epochs, schedule } = policy;
  const warmup = policy.warmupEpochs ?? 0;
  if (warmup > 0 && t < warmup) return (baseLr * t) / warmup;
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'step': {
      const passed = schedule.milestones.filter((m) => Math.floor(t) >= m).length;
      return baseLr * schedule.gamma ** passed;
    }
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const progress = Math.min(1, (t - warmup) / Math.max(epochs - warmup, 1e-9));
      return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
  }
}
