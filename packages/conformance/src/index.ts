export { runConformance, KERNEL_CHECKS, MODEL_CHECKS, modelCheck, type Check, type CheckResult } from './suite';
export { kinkMargins, type KinkMargins } from './margins';
export { compiledStepConformance, compiledCaseMargins, caseBatches, nonFiniteStep, trainCase, COMPILED_STEP_CASES, type CompiledStepCase } from './compiled-step';
