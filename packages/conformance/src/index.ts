export { runConformance, KERNEL_CHECKS, MODEL_CHECKS, modelCheck, type Check, type CheckResult } from './suite';
