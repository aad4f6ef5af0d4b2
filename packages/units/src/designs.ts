/**
 * Where a unit puts its ReLUs and BNs: the paper's ablation (Han et al. 2017, Sec. 3.2 and
 * Fig. 6). All four start from the pre-activation ResNet unit; PyramidNet's own design removes
 * the first ReLU and adds a BN after the last convolution.
 */
export interface UnitDesign {
  /** A ReLU after the unit's first BN, before its first convolution. */
  firstRelu: boolean;
  /** A BN after the unit's last convolution, before the addition. */
  lastBn: boolean;
}

export const UNIT_DESIGNS = {
  /** (a) the original pre-activation ResNet unit. */
  preact: { firstRelu: true, lastBn: false },
  /** (b) pre-activation without the first ReLU. */
  'no-first-relu': { firstRelu: false, lastBn: false },
  /** (c) pre-activation with a BN after the last convolution. */
  'last-bn': { firstRelu: true, lastBn: true },
  /** (d) both changes: the pyramidal unit of the paper, the default. */
  pyramid: { firstRelu: false, lastBn: true },
} as const satisfies Record<string, UnitDesign>;

export type UnitDesignName = keyof typeof UNIT_DESIGNS;

export const DEFAULT_UNIT_DESIGN: UnitDesignName = 'pyramid';
