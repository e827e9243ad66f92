import tf from "../tfjs.cjs";
import { activeBackendName } from "../backend/load-blas.js";
import { RingbookError } from "../errors.js";
import type { Dataset } from "../data/dataset.js";
import { mnistDigits } from "../data/mnist-digits.js";
import { syntheticClassification } from "../data/synthetic.js";
import { loadCheckpoint } from "./checkpoint.js";
import { GradientExchange } from "./gradient-exchange.js";
import type { AllReduceSum } from "./gradient-step.js";
import { createOptimizer } from "./optimizers.js";
import { trainOnRank, type StepRecord } from "./rank-loop.js";
import type { EpochRecord } from "./epoch-record.js";
import type { EarlyStoppingOutcome } from "./early-stopping.js";
import { RankControls } from "./training-controls.js";
import { withSeededMathRandom } from "./seeded-random.js";
import type { WorkerTrainSpec } from "./train-spec.js";
import { toTrainable, type Trainable } from "./trainable.js";

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
}

/** Events a rank sends to the owner while training. */
export type WorkerTrainEvent =
  | { kind: "ready"; rank: number; parameterCount: number; datasetSize: number; backend: string }
  | { kind: "steps"; rank: number; records: StepRecord[] }
  /** Epoch ends, from rank 0 only (every rank has the same), sent after the steps they follow. */
  | { kind: "epochs"; rank: number; records: EpochRecord[] };

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

/** The last model each rank trained (one rank per worker process; several in in-process tests). */
const lastTrainedKey = Symbol.for("ringbook.lastTrained");

function lastTrained(): Map<number, TrainedModelState> {
  const globals = globalThis as Record<symbol, unknown>;
  let byRank = globals[lastTrainedKey] as Map<number, TrainedModelState> | undefined;
  if (!(byRank instanceof Map)) {
    byRank = new Map();
    globals[lastTrainedKey] = byRank;
  }
  return byRank;
}

/**
 * One rank's part of `cluster.train`: builds the model and data from their source, agrees with the
 * other ranks that every rank built them (so a bad model fails everywhere before any computing),
 * takes rank 0's initial weights, trains, and streams step records to the owner at a bounded rate.
 */
export async function runWorkerTraining(env: WorkerTrainEnv, spec: WorkerTrainSpec): Promise<WorkerTrainResult> {
  const { rank, worldSize } = env;
  const context = { tf, rank, worldSize, args: spec.args };
  let setup: { model: unknown; trainable: Trainable; dataset: Dataset } | undefined;
  let setupError: unknown;
  try {
    const model = await withSeededMathRandom(spec.seed, () => compileFunction(spec.modelSource, "model")(context));
    const dataset = await buildDataset(spec, context);
    const loss = "name" in spec.loss ? spec.loss.name : compileFunction(spec.loss.source, "loss");
    setup = { model, trainable: toTrainable(model, loss), dataset };
  } catch (error) {
    setupError = error;
  }
  // Agree on setup: slot r says whether rank r failed; slot worldSize + r is its parameter count.
  const votes = new Float32Array(2 * worldSize);
  votes[rank] = setup === undefined ? 1 : 0;
  votes[worldSize + rank] = setup === undefined ? 0 : new GradientExchange(setup.trainable.variables).gradientLength;
  let agreed: Float32Array;
  try {
    agreed = await env.allReduceSum(votes);
  } catch (error) {
    if (setup !== undefined) disposeModel(setup.model, setup.trainable);
    throw error;
  }
  if (setup === undefined) {
    throw new RingbookError("ERR_TRAIN_SETUP", `rank ${rank}: the model or data did not build: ${describe(setupError)}`, { cause: setupError });
  }
  const failed = [...agreed.subarray(0, worldSize)].flatMap((flag, r) => (flag > 0 ? [r] : []));
  if (failed.length > 0) {
    disposeModel(setup.model, setup.trainable);
    throw new RingbookError("ERR_TRAIN_SETUP", `rank ${rank}: training did not start because rank(s) ${failed.join(", ")} could not build the model or data`);
  }
  const counts = [...agreed.subarray(worldSize)];
  if (counts.some((count) => count !== counts[0])) {
    disposeModel(setup.model, setup.trainable);
    throw new RingbookError("ERR_TRAIN_SETUP", `ranks built models of different sizes (${counts.join(", ")} parameters); the model function must build the same model everywhere`);
  }
  const { model, trainable, dataset } = setup;
  const exchange = new GradientExchange(trainable.variables);
  const optimizer = createOptimizer(spec.optimizer, trainable.variables);
  const start = spec.resumeFrom === undefined ? undefined : await loadCheckpoint({ dir: spec.resumeFrom, variables: trainable.variables, optimizer });
  if (start === undefined) {
    // One source of truth for the initial weights, whatever each rank's initialisers drew.
    exchange.writeWeights(await env.broadcast(rank === 0 ? exchange.readWeights() : undefined, 0));
  }
  // The previous run's model is replaced: free its weights, or every run would leak a model.
  const previous = lastTrained().get(rank);
  if (previous !== undefined && previous.model !== model) disposeModel(previous.model, previous.trainable);
  lastTrained().set(rank, { model, trainable });
  env.emit({ kind: "ready", rank, parameterCount: exchange.gradientLength, datasetSize: dataset.size, backend: activeBackendName() });

  let buffered: StepRecord[] = [];
  let bufferedEpochs: EpochRecord[] = [];
  const flush = (): void => {
    if (buffered.length > 0) env.emit({ kind: "steps", rank, records: buffered });
    if (bufferedEpochs.length > 0) env.emit({ kind: "epochs", rank, records: bufferedEpochs });
    buffered = [];
    bufferedEpochs = [];
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
      dataset,
      schedule: spec.schedule,
      allReduceSum: env.allReduceSum,
      ...(start === undefined ? {} : { start }),
      shouldStop: env.stopRequested,
      onStep: (record) => buffered.push(record),
      controls,
      ...(rank === 0 ? { onEpochEnd: (record: EpochRecord) => bufferedEpochs.push(record) } : {}),
    });
    const earlyStopping = controls.earlyStopping;
    return { rank, stopped: outcome.stopped, position: outcome.position, parameterCount: exchange.gradientLength, ...(earlyStopping === undefined ? {} : { earlyStopping }) };
  } finally {
    clearInterval(timer);
    flush();
    optimizer.dispose();
  }
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

async function buildDataset(spec: WorkerTrainSpec, context: object): Promise<Dataset> {
  const data = spec.data;
  if ("source" in data) {
    const dataset: unknown = await compileFunction(data.source, "data")(context);
    if (typeof dataset !== "object" || dataset === null || typeof (dataset as Dataset).batch !== "function" || typeof (dataset as Dataset).size !== "number") {
      throw new RingbookError("ERR_BAD_DATASET", "the data function must return a Dataset ({ size, batch(indices) }, e.g. new ArrayDataset(...))");
    }
    return dataset as Dataset;
  }
  switch (data.builtin) {
    case "mnist": {
      const { train, test } = mnistDigits(data.sampleShape === undefined ? {} : { sampleShape: data.sampleShape });
      return data.split === "test" ? test : train;
    }
    case "synthetic":
      return syntheticClassification(data);
    default: {
      const impossible: never = data;
      throw new RingbookError("ERR_BAD_DATASET", `unknown built-in data set ${JSON.stringify(impossible)}`);
    }
  }
}

function compileFunction(source: string, what: string): (context: object) => unknown {
  let compiled: unknown;
  try {
    // `tf` is a parameter so that `() => tf.sequential(...)` written in a notebook finds it here.
    compiled = new Function("tf", `"use strict"; return (${source}\n);`)(tf);
  } catch (error) {
    throw new RingbookError("ERR_BAD_FUNCTION", `the ${what} function could not be compiled on the worker: ${describe(error)}`, { cause: error });
  }
  if (typeof compiled !== "function") throw new RingbookError("ERR_BAD_FUNCTION", `the ${what} source is not a function`);
  return compiled as (context: object) => unknown;
}

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
