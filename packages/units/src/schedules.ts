import { ConfigError } from '@pyramid/core';

/**
 * How a fractional width becomes a channel count.
 * - 'half-even': Python 3's `int(round(x))`, what the reference PyTorch code computes when run
 *   today. The default, so that its state_dicts import without shape mismatches.
 * - 'half-up': Lua's `math.floor(x + 0.5)` in the original Torch code (and Python 2's round for
 *   positive x).
 * They differ only when the accumulator lands exactly on k + 0.5, e.g. alpha / N = 0.5.
 */
export type WidthRounding = 'half-even' | 'half-up';

export function roundWidth(x: number, rounding: WidthRounding): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact for doubles of this size
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return rounding === 'half-up' || floor % 2 !== 0 ? floor + 1 : floor;
}

export interface WideningSchedule {
  /** Channels before the first unit: 16 for CIFAR, 64 for ImageNet. */
  start: number;
  /** Widening factor: the total width added (additive) or the final-to-start ratio (multiplicative). */
  alpha: number;
  /** Number of units N over which the width grows. */
  units: number;
  rounding?: WidthRounding;
}

function check({ start, alpha, units }: WideningSchedule, multiplicative: boolean): void {
  if (!Number.isInteger(start) || start <= 0) throw new ConfigError(`start width must be a positive integer, got ${start}`);
  if (!Number.isInteger(units) || units <= 0) throw new ConfigError(`number of units must be a positive integer, got ${units}`);
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new ConfigError(`alpha must be a positive number, got ${alpha}`);
  if (multiplicative && alpha < 1) throw new ConfigError(`alpha must be at least 1 for multiplicative widening, got ${alpha}`);
}

/**
 * Additive widening, paper eq. (2): D_k = D_{k-1} + alpha / N. As the reference code does, a
 * float accumulator starts at `start`, grows by alpha / N per unit, and each unit's width is the
 * rounded accumulator (never a rounded increment), so the last unit has start + alpha channels.
 */
export function additiveWidths(schedule: WideningSchedule): number[] {
  check(schedule, false);
  const { start, alpha, units, rounding = 'half-even' } = schedule;
  const step = alpha / units;
  const widths: number[] = [];
  let width = start;
  for (let k = 0; k < units; k++) {
    width = width + step;
    widths.push(roundWidth(width, rounding));
  }
  return widths;
}

/**
 * Multiplicative widening, paper eq. (3): D_k = D_{k-1} * alpha^(1/N), so the last unit has
 * start * alpha channels. The same float accumulator and rounding as the additive rule: flooring
 * each step, as eq. (3) reads literally, would stall at 16 for every alpha^(1/N) < 17/16.
 */
export function multiplicativeWidths(schedule: WideningSchedule): number[] {
  check(schedule, true);
  const { start, alpha, units, rounding = 'half-even' } = schedule;
  const factor = Math.pow(alpha, 1 / units);
  const widths: number[] = [];
  let width = start;
  for (let k = 0; k < units; k++) {
    width = width * factor;
    widths.push(roundWidth(width, rounding));
  }
  return widths;
}

export type Widening = 'additive' | 'multiplicative';

export function widths(widening: Widening, schedule: WideningSchedule): number[] {
  return widening === 'additive' ? additiveWidths(schedule) : multiplicativeWidths(schedule);
}
