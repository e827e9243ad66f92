import tf from "../tfjs.cjs";
import { activeBackendName } from "../backend/load-blas.js";
import { isErrorCode, RingbookError } from "../errors.js";
import { disposeBatch } from "../data/tensor-tree.js";
import { loadCheckpoint, type TrainingPosition } from "./checkpoint.js";
import { checkFirstBatch } from "./data-check.js";
import { buildTrainingData } from "./data-forms.js";
import { compileUserFunction, explainUserError, ringbookScope } from "./function-scope.js";
import { GradientExchange } from "./gradient-exchange.js";
import type { AllReduceSum } from "./gradient-step.js";
import type { LossFunction, ModelLoss, OutputLoss } from "./losses.js";
import { createOptimizer } from "./optimizers.js";
import { trainOnRank, type OpenedEpoch, type StepRecord } from "./rank-loop.js";
import { epochLogNamesOf, type EpochRecord } from "./epoch-record.js";
import { checkMonitor, type EarlyStoppingOutcome } from "./early-stopping.js";
import { RankControls } from "./training-controls.js";
import { withSeededMathRandom } from "../data/seeded-random.js";
import { outputLossMetrics, resolveMetrics, type MetricFunction, type ResolvedMetric } from "./metrics.js";
import { RankEvaluation } from "./rank-evaluation.js";
import type { ValidationRecord } from "./validation.js";
import type { LossEntrySpec, WorkerLossSpec } from "./loss-options.js";
import type { TrainContext, WorkerTrainSpec } from "./train-spec.js";
import { toTrainable, type Trainable } from "./trainable.js";
import type { TrainingData } from "./training-data.js";

/** What the worker side of training needs from the cluster. */
export interface WorkerTrainEnv {
  rank: number;
  worldSize: number;
  allReduceSum: AllReduceSum;
  /** Every rank gets `root`'s array; other ranks pass `undefined`. */
  broadcast: (values: Float32Array | undefined, root: number) => Promise<Float32Array>;
  /** Sends an event to the owner (the notebook). */
  emit: (event: WorkerTrainEvent) => void;
  /** True once the owner asked this run to stop. */
  stopRequested: () => boolean;
  /**
   * Awaited after each step once its events were emitted (in a world of one only: see
   * `trainOnRank`): true ends training after that step. How `trainSingleProcess` runs callbacks.
   */
  betweenSteps?: () => Promise<boolean>;
}

/** Events a rank sends to the owner while training. */
export type WorkerTrainEvent =
  | { kind: "ready"; rank: number; parameterCount: number; /** Samples per epoch; null for a stream of unknown size. */ datasetSize: number | null; backend: string }
  | { kind: "steps"; rank: number; records: StepRecord[] }
  /** Epoch ends, from rank 0 only (every rank has the same), sent after the steps they follow. */
  | { kind: "epochs"; rank: number; records: EpochRecord[] }
  /** Validation passes, from rank 0 only (every rank has the same). */
  | { kind: "validations"; rank: number; records: ValidationRecord[] };

/** What each rank returns when its training ends. */
export interface WorkerTrainResult {
  rank: number;
  stopped: boolean;
  position: { epoch: number; stepInEpoch: number; globalStep: number };
  parameterCount: number;
  /** Where early stopping ended training, when it was on. */
  earlyStopping?: EarlyStoppingOutcome;
}

/** The model a worker trained last, kept warm for evaluation and `cluster.model()`. */
export interface TrainedModelState {
  model: unknown;
  trainable: Trainable;
}

/**
 * The last model each rank trained (one rank per worker process; several in in-process tests).
 * Only this module's training, evaluation and export read it, so it is module state, not a global.
 */
const lastTrainedByRank = new Map<number, TrainedModelState>();

function lastTrained(): Map<number, TrainedModelState> {
  return lastTrainedByRank;
}

/** What the model and data functions get on a worker ({@link TrainContext}, with ringbook's own tfjs). */
type WorkerContext = Omit<TrainContext, "tf"> & { tf: typeof tf };

/** What a rank built before training: all of it is freed if any rank fails to build. */
interface Setup {
  model: unknown;
  trainable: Trainable;
  data: TrainingData;
  /** The validation data, when the run has it. */
  validationData: TrainingData | undefined;
  metrics: ResolvedMetric[];
  optimizer: tf.Optimizer;
  start: TrainingPosition | undefined;
  opened: OpenedEpoch | undefined;
}

/**
 * One rank's part of `cluster.train`: builds the model and data from their source, reads its first
 * batch and checks it against the model, agrees with the other ranks that every rank got this far
 * (so a bad model or bad data fails everywhere before any computing), takes rank 0's initial
 * weights, trains, and streams step records to the owner at a bounded rate.
 */
export async function runWorkerTraining(env: WorkerTrainEnv, spec: WorkerTrainSpec): Promise<WorkerTrainResult> {
  const { rank, worldSize } = env;
  const context: WorkerContext = { tf, rank, worldSize, args: spec.args, ringbook: ringbookScope };
  let setup: Setup | undefined;
  let setupError: unknown;
  try {
    setup = await buildSetup(spec, context);
  } catch (error) {
    setupError = error;
  }
  // Agree on setup: slot r says whether rank r failed; slot worldSize + r is its parameter count;
  // slot 2 worldSize + r the fingerprint of the first global batch it read (-1: none).
  const votes = new Float32Array(3 * worldSize);
  votes[rank] = setup === undefined ? 1 : 0;
  votes[worldSize + rank] = setup === undefined ? 0 : new GradientExchange(setup.trainable.variables).gradientLength;
  votes[2 * worldSize + rank] = setup?.opened?.first?.fingerprint() ?? -1;
  let agreed: Float32Array;
  try {
    agreed = await env.allReduceSum(votes);
  } catch (error) {
    if (setup !== undefined) disposeSetup(setup);
    throw error;
  }
  if (setup === undefined) {
    throw new RingbookError("ERR_TRAIN_SETUP", `rank ${rank}: the model or data did not build: ${describe(setupError)}`, { cause: setupError });
  }
  const failed = [...agreed.subarray(0, worldSize)].flatMap((flag, r) => (flag > 0 ? [r] : []));
  if (failed.length > 0) {
    disposeSetup(setup);
    throw new RingbookError("ERR_TRAIN_SETUP", `rank ${rank}: training did not start because rank(s) ${failed.join(", ")} could not build the model or data`);
  }
  const counts = [...agreed.subarray(worldSize, 2 * worldSize)];
  if (counts.some((count) => count !== counts[0])) {
    disposeSetup(setup);
    throw new RingbookError("ERR_TRAIN_SETUP", `ranks built models of different sizes (${counts.join(", ")} parameters); the model function must build the same model everywhere`);
  }
  const fingerprints = [...agreed.subarray(2 * worldSize)].flatMap((value, r) => (value >= 0 ? [{ rank: r, value }] : []));
  const differing = fingerprints.find(({ value }) => value !== fingerprints[0]!.value);
  if (differing !== undefined) {
    disposeSetup(setup);
    throw new RingbookError(
      "ERR_DATA_DIFFERS",
      `ranks ${fingerprints[0]!.rank} and ${differing.rank} read different data: the first sample of the first global batch differs between them, so the ranks would train on batches that single-process training never sees. ` +
        "Every worker must build the same data (ringbook shards it): seed what is random (a tf.data.Dataset's shuffle(bufferSize, seed), random numbers in the data function), or build the data from args",
    );
  }
  const { model, trainable, data, optimizer, start, opened, validationData, metrics } = setup;
  const exchange = new GradientExchange(trainable.variables);
  if (start === undefined) {
    // One source of truth for the initial weights, whatever each rank's initialisers drew.
    exchange.writeWeights(await env.broadcast(rank === 0 ? exchange.readWeights() : undefined, 0));
  }
  // The previous run's model is replaced: free its weights, or every run would leak a model.
  const previous = lastTrained().get(rank);
  if (previous !== undefined && previous.model !== model) disposeModel(previous.model, previous.trainable);
  lastTrained().set(rank, { model, trainable });
  env.emit({ kind: "ready", rank, parameterCount: exchange.gradientLength, datasetSize: data.size ?? null, backend: activeBackendName() });

  let buffered: StepRecord[] = [];
  let bufferedEpochs: EpochRecord[] = [];
  let bufferedValidations: ValidationRecord[] = [];
  const flush = (): void => {
    if (buffered.length > 0) env.emit({ kind: "steps", rank, records: buffered });
    if (bufferedValidations.length > 0) env.emit({ kind: "validations", rank, records: bufferedValidations });
    if (bufferedEpochs.length > 0) env.emit({ kind: "epochs", rank, records: bufferedEpochs });
    buffered = [];
    bufferedEpochs = [];
    bufferedValidations = [];
  };
  const timer = setInterval(flush, spec.metricsIntervalMs);
  try {
    const controls = new RankControls(spec.controls, { optimizer, optimizerSpec: spec.optimizer, weights: exchange, tf, args: spec.args });
    const outcome = await trainOnRank({
      rank,
      worldSize,
      model,
      trainable,
      optimizer,
      data,
      schedule: spec.schedule,
      allReduceSum: env.allReduceSum,
      ...(start === undefined ? {} : { start }),
      ...(opened === undefined ? {} : { opened }),
      shouldStop: env.stopRequested,
      onStep: (record) => buffered.push(record),
      controls,
      evaluation: new RankEvaluation({
        trainable,
        metrics,
        allReduceSum: env.allReduceSum,
        ...(validationData === undefined || spec.validation === undefined ? {} : { validation: { data: validationData, every: spec.validation.every } }),
        ...(rank === 0 ? { onValidation: (record: ValidationRecord) => bufferedValidations.push(record) } : {}),
      }),
      ...(rank === 0 ? { onEpochEnd: (record: EpochRecord) => bufferedEpochs.push(record) } : {}),
      ...(env.betweenSteps === undefined ? {} : { betweenSteps: betweenStepsAfterFlush(flush, env.betweenSteps) }),
    });
    const earlyStopping = controls.earlyStopping;
    return { rank, stopped: outcome.stopped, position: outcome.position, parameterCount: exchange.gradientLength, ...(earlyStopping === undefined ? {} : { earlyStopping }) };
  } finally {
    clearInterval(timer);
    flush();
    optimizer.dispose();
  }
}

/** The caller's hook, called once the step's buffered events went out. */
function betweenStepsAfterFlush(flush: () => void, betweenSteps: () => Promise<boolean>): () => Promise<boolean> {
  return async () => {
    flush();
    return betweenSteps();
  };
}

/**
 * Builds the model, its loss, the data and the optimizer, loads the checkpoint to resume from,
 * opens the start epoch and checks its first batch against the model. What was built is freed
 * when a later part fails.
 */
async function buildSetup(spec: WorkerTrainSpec, context: WorkerContext): Promise<Setup> {
  const built: Partial<Setup> = {};
  try {
    let model: unknown;
    try {
      const modelFunction = compileUserFunction(spec.modelSource, "model");
      model = await withSeededMathRandom(spec.seed, () => modelFunction(context));
    } catch (error) {
      throw explainUserError(error, "model");
    }
    built.model = model;
    const trainable = toTrainable(model, compileLoss(spec.loss), spec.lossWeights);
    built.trainable = trainable;
    // The data counts micro-batches; with accumulation, stepsPerEpoch counts optimizer steps.
    const perStep = spec.schedule.accumulationSteps ?? 1;
    const dataSchedule = perStep === 1 || spec.schedule.stepsPerEpoch === undefined ? spec.schedule : { ...spec.schedule, stepsPerEpoch: spec.schedule.stepsPerEpoch * perStep };
    const placement = { rank: context.rank, worldSize: context.worldSize, schedule: dataSchedule };
    const data = await buildTrainingData(spec.data, { context, trainable, placement });
    const metrics = [
      ...outputLossMetrics(trainable.layers?.losses ?? []),
      ...resolveMetrics(spec.metrics ?? [], trainable.layers?.ports.outputs.map((output) => output.name) ?? ["output"], (source) => explainedLoss(compileUserFunction(source, "metric") as MetricFunction, "metric")),
    ];
    // The owner could not know the model's output names: a per-output monitor is checked here.
    if (spec.controls.earlyStopping !== undefined) checkMonitor(spec.controls.earlyStopping.monitor, epochLogNamesOf(metrics, spec.validation?.every));
    const validationData = spec.validation === undefined ? undefined : await buildValidationData(spec, { context, trainable, placement });
    built.optimizer = createOptimizer(spec.optimizer, trainable.variables);
    const start = spec.resumeFrom === undefined ? undefined : await loadCheckpoint({ dir: spec.resumeFrom, variables: trainable.variables, optimizer: built.optimizer });
    const position = start ?? { epoch: 0, stepInEpoch: 0, globalStep: 0 };
    let opened: OpenedEpoch | undefined;
    if (position.epoch < spec.schedule.epochs) {
      const batches = data.openEpoch(position.epoch, position.stepInEpoch * perStep);
      opened = { batches, first: await batches.next() };
      built.opened = opened;
      if (opened.first === undefined && position.stepInEpoch === 0) {
        const { batchSize, dropRemainder } = spec.schedule;
        throw new RingbookError(
          "ERR_BAD_DATASET",
          `the data (${data.size ?? "unknown number of"} samples) gives no batch of ${batchSize}${dropRemainder === true ? " with dropRemainder: true" : ""}: ${dropRemainder === true ? "lower batchSize or leave dropRemainder out" : "the data is empty"}`,
        );
      }
      if (opened.first !== undefined && opened.first.samples > 0) checkFirstBatch(trainable, opened.first, { kind: data.kind });
    }
    return { model, trainable, data, validationData, metrics, optimizer: built.optimizer, start, opened };
  } catch (error) {
    disposeSetup(built);
    throw error;
  }
}

/** The run's loss with function sources compiled, in the form {@link toTrainable} takes. */
function compileLoss(spec: WorkerLossSpec): ModelLoss {
  const entry = (loss: LossEntrySpec): OutputLoss => ("name" in loss ? loss.name : explainedLoss(compileUserFunction(loss.source, "loss") as LossFunction));
  switch (spec.kind) {
    case "all":
      return entry(spec.loss);
    case "byPosition":
      return spec.losses.map(entry);
    case "byName":
      return Object.fromEntries(Object.entries(spec.losses).map(([name, loss]) => [name, entry(loss)]));
    default: {
      const impossible: never = spec;
      throw new RingbookError("ERR_BAD_LOSS", `unknown loss spec ${JSON.stringify(impossible)}`);
    }
  }
}

/** A user's loss (or metric) function whose ReferenceErrors say to pass notebook values in `args`. */
function explainedLoss(fn: LossFunction, what: "loss" | "metric" = "loss"): LossFunction {
  return (yTrue, yPred) => {
    try {
      return fn(yTrue, yPred);
    } catch (error) {
      throw explainUserError(error, what);
    }
  };
}

/**
 * The run's validation data on this rank: the forms of `data`, read in order (not shuffled) in
 * batches of `batchSize` (the first `validationSteps` of them when given, every pass from the
 * start), every batch sharded over the ranks; its first batch is checked against the model
 * (messages start with "validationData").
 */
async function buildValidationData(spec: WorkerTrainSpec, build: Parameters<typeof buildTrainingData>[1]): Promise<TrainingData> {
  const { batchSize, seed } = spec.schedule;
  const steps = spec.validation!.steps;
  const schedule = { batchSize, epochs: 1, seed, shuffle: false, ...(steps === undefined ? {} : { stepsPerEpoch: steps }) };
  const placement = { ...build.placement, schedule, purpose: "validation" as const };
  try {
    const data = await buildTrainingData(spec.validation!.data, { ...build, placement });
    const first = await data.openEpoch(0, 0).next();
    if (first === undefined) throw new RingbookError("ERR_BAD_VALIDATION_DATA", `the validation data (${data.name}) is empty`);
    try {
      if (first.samples > 0) checkFirstBatch(build.trainable, first, { kind: data.kind });
    } finally {
      disposeBatch(first);
    }
    return data;
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const code = "code" in error ? error.code : undefined;
    throw new RingbookError(isErrorCode(code) ? code : "ERR_BAD_VALIDATION_DATA", `validationData: ${error.message}`, { cause: error });
  }
}

function disposeSetup(setup: Partial<Setup>): void {
  if (setup.opened?.first !== undefined) disposeBatch(setup.opened.first);
  setup.optimizer?.dispose();
  if (setup.model !== undefined && setup.trainable !== undefined) disposeModel(setup.model, setup.trainable);
  else if (setup.model instanceof tf.LayersModel) setup.model.dispose();
}

/** The model this worker trained last on `rank` (the lowest rank held when not given), if any. */
export function lastTrainedModel(rank?: number): TrainedModelState | undefined {
  const byRank = lastTrained();
  return byRank.get(rank ?? Math.min(...byRank.keys()));
}

/** The trained model of this worker, as tfjs artifacts (layers) or named arrays (custom variables). */
export async function exportTrainedModel(rank?: number): Promise<ExportedModel> {
  const byRank = lastTrained();
  const state = byRank.get(rank ?? Math.min(...byRank.keys()));
  if (state === undefined) throw new RingbookError("ERR_NO_MODEL", "no model has been trained on this cluster yet");
  if (state.model instanceof tf.LayersModel) {
    let saved: tf.io.ModelArtifacts | undefined;
    await state.model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }));
    const weightData = saved?.weightData;
    return {
      kind: "layers",
      modelTopology: saved?.modelTopology as object,
      weightSpecs: saved?.weightSpecs ?? [],
      weightData: weightData === undefined ? new ArrayBuffer(0) : Array.isArray(weightData) ? concatBuffers(weightData) : weightData,
    };
  }
  return {
    kind: "variables",
    variables: state.trainable.variables.map((v) => ({ name: v.name, shape: v.shape, values: v.dataSync() as Float32Array })),
  };
}

/** A trained model as it travels from a worker to the notebook. */
export type ExportedModel =
  | { kind: "layers"; modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }
  | { kind: "variables"; variables: Array<{ name: string; shape: number[]; values: Float32Array }> };

/** Frees a model's tensors: a layers model disposes itself; a custom model's variables are disposed. */
function disposeModel(model: unknown, trainable: Trainable): void {
  if (model instanceof tf.LayersModel) {
    model.dispose();
    return;
  }
  for (const variable of trainable.variables) if (!variable.isDisposed) variable.dispose();
}

function concatBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
