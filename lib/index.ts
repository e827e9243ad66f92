/**
 * ringbook's library: worker clusters for data-parallel TensorFlow.js training, usable from a
 * notebook cell (`import { launchCluster } from "ringbook"`) or a plain Node script. It knows
 * nothing of Jupyter; plots leave it as plain Plotly figure JSON.
 */
import { registerFileSystemRouter } from "./io/file-system.js";

// `model.save("file://...")` and `tf.loadLayersModel("file://...")` work wherever ringbook is imported.
registerFileSystemRouter();

export * from "./cluster/index.js";
// A type only: runs come from `cluster.train`, never from the constructor.
export type { TrainRun, TrainResult, StepListener, EpochListener } from "./cluster/train-run.js";
export { trainSingleProcess, type SingleProcessRun } from "./training/train-single-process.js";
export { CustomModel, type TrainedModel } from "./training/trained-model.js";
export { saveModel, loadModel, loadVariables, type SavedModelInfo, type SavableModel, type NamedArray } from "./io/save-model.js";
export { fileSystem, type FileSystemOptions } from "./io/file-system.js";
export type { TrainOptions, TrainContext, BuiltinData, LossOption, EvaluateOptions } from "./training/train-spec.js";
export type { RingbookScope } from "./training/function-scope.js";
export type { LossName, LossFunction, LossWeights } from "./training/losses.js";
export type { OptimizerSpec } from "./training/optimizers.js";
export {
  constantLearningRate,
  linearWarmup,
  stepDecay,
  exponentialDecay,
  cosineDecay,
  learningRateAt,
  type LearningRate,
  type LearningRateSchedule,
  type LearningRateFunction,
  type LearningRateContext,
} from "./training/learning-rate-schedule.js";
export type { TrainCallbacks, StepLogs, TrainEndLogs, CallbackControl } from "./training/callback-options.js";
export type { EarlyStoppingOptions, EarlyStoppingOutcome } from "./training/early-stopping.js";
export type { EpochRecord, EpochLogs } from "./training/epoch-record.js";
export type { StepSummary, RankStepTimings } from "./metrics/step-summary.js";
export { TrainingHistory, type HistoryColumns } from "./metrics/training-history.js";
export { ArrayDataset, type Dataset } from "./data/dataset.js";
export { TensorDataset, type TensorDatasetOptions } from "./data/tensor-dataset.js";
export type { SampleTree, SampleLeaf, ShapedValues, NestedArray, SampleDtype, SampleTypedArray } from "./data/sample-arrays.js";
export type { TensorTree, Batch } from "./data/tensor-tree.js";
export { mnistDigits, type MnistOptions } from "./data/mnist-digits.js";
export { syntheticClassification, type SyntheticOptions } from "./data/synthetic.js";
export { linePlot, type Series, type LinePlotOptions } from "./plots/line-plot.js";
export { LivePlot, plotStream, type LivePlotOptions } from "./plots/live-plot.js";
export { trainingFigure, type TrainingFigureOptions } from "./plots/training-figure.js";
export type { Figure, Trace, Layout } from "./plots/figure.js";
export type { BackendPreference } from "./backend/backend-preference.js";
export { useWasmBackend } from "./backend/load-wasm.js";
export { useBlasBackend, activeBackendName, BlasBackendError, type BlasBackendInfo } from "./backend/load-blas.js";
export { FusedOptimizer } from "./training/fused-optimizer.js";
export { RingbookError } from "./errors.js";
