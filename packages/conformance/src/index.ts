export { runConformance, KERNEL_CHECKS, MODEL_CHECKS, modelCheck, type Check, type CheckResult } from './suite';
export { kinkMargins, type KinkMargins } from './margins';
