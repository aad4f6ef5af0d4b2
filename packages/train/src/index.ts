export { TrainingStep, trainableParameters, type StepBatch, type StepSettings, type StepGradients, type StepResult } from './step';
export { Sgd, type SgdOptions, type NamedVariable } from './optimizer';
export { learningRate, validateLrPolicy, type LrPolicy, type LrSchedule } from './schedule';
export { RECIPES, findRecipe, defaultRecipeFor, type Recipe } from './recipes';
export { crossEntropy, mixedCrossEntropy, topKHits } from './loss';
export { RUN_FORMAT, createRunConfig, validateRunConfig, validateRecipe, type RunConfig, type RunConfigOptions, type RunData, type SettingNames } from './run-config';
export { RunStreams, initialState, type TrainState } from './run-state';
export { benchmarkModel, benchmarkConv, convShapes, type BenchmarkResult, type BenchmarkOptions, type ThroughputResult, type ConvShape, type ConvKernelResult } from './bench';
