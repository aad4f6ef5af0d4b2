export { Sgd, type SgdOptions, type NamedVariable } from './optimizer';
export { learningRate, validateLrPolicy, type LrPolicy, type LrSchedule } from './schedule';
export { RECIPES, findRecipe, defaultRecipeFor, type Recipe } from './recipes';
export { crossEntropy, mixedCrossEntropy, topKHits } from './loss';
export { evaluate, type Evaluation, type EvaluateOptions } from './evaluate';
export { train, NonFiniteLossError, RUN_FORMAT, type RunConfig, type TrainState, type TrainEvent, type TrainOptions, type TrainOutcome } from './trainer';
export { MetricsLog, assertRunFolderFree, createRunFolder, readRunConfig, RUN_FILE, METRICS_FILE, LAST, BEST, type MetricRecord } from './run-folder';
export { benchmarkModel, benchmarkConv, convShapes, type BenchmarkResult, type BenchmarkOptions, type ThroughputResult, type ConvShape, type ConvKernelResult } from './bench';
export { writePlots } from './plots';
