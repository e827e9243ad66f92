import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { disposeBatch, sampleCount, type Batch } from "../data/tensor-tree.js";
import { isFusedOptimizer } from "./fused-optimizer.js";
import type { GradientExchange } from "./gradient-exchange.js";
import { clipGradients, type GradientClipping } from "./gradient-clipping.js";
import type { MetricSums } from "./metrics.js";
import type { Trainable } from "./trainable.js";

/**
 * Sums equal-length arrays across all ranks; every rank gets the sum (in `into` when given, which
 * the implementation may also ignore: callers use the returned array). The cluster's allReduce.
 */
export type AllReduceSum = (values: Float32Array, into?: Float32Array) => Promise<Float32Array>;

/** Where the time of one step went on this rank, in milliseconds. */
export interface StepTimings {
  computeMs: number;
  communicationMs: number;
  applyMs: number;
}

/** The outcome of one synchronous data-parallel step on one rank. */
export interface StepOutcome {
  /** Mean loss over the whole global batch (identical on every rank). */
  globalLoss: number;
  /** Some rank asked to stop: every rank stops after this step. */
  stop: boolean;
  /** Mean loss over this rank's samples (NaN when it had none). */
  localLoss: number;
  localSamples: number;
  timings: StepTimings;
}

/** One micro-batch of this rank: inputs and targets (a tensor each, or arrays or maps of them: what the trainable takes). */
export type MicroBatch = Batch;

/**
 * One synchronous data-parallel step: local gradients of the mean loss over this rank's shard,
 * weighted by `localSamples / globalSamples`, summed across ranks with one all-reduce, then applied
 * by the same optimizer on every rank. The result equals one step of single-process training on the
 * whole global batch: Σ_r (n_r / b) · mean_r(∇ℓ) = mean_b(∇ℓ), also for an uneven last batch.
 * `xs`/`ys` stay owned by the caller.
 *
 * With gradient accumulation, `microBatches` replaces `xs`/`ys`: this rank's shards of k
 * micro-batches, loaded one at a time (and disposed here), each weighted by its share of the
 * `globalSamples` of all k together; their gradients are summed locally, then exchanged once.
 * The step equals one step on the k micro-batches as one global batch.
 */
export async function dataParallelStep(args: {
  trainable: Trainable;
  exchange: GradientExchange;
  optimizer: tf.Optimizer;
  globalSamples: number;
  allReduceSum: AllReduceSum;
  /** This rank asks all ranks to stop after this step. @default false */
  stopVote?: boolean;
  /** Clips the all-reduced gradients (identically on every rank) before the optimizer step. */
  clipping?: GradientClipping;
  /** Adds this rank's training metrics of the step's batches (from the loss's own forward pass). */
  metrics?: MetricSums;
} & (MicroBatch | { microBatches: ReadonlyArray<() => MicroBatch | Promise<MicroBatch>> })): Promise<StepOutcome> {
  const { trainable, exchange, optimizer, globalSamples, allReduceSum } = args;
  const stopVote = args.stopVote ?? false;
  const computeStart = performance.now();
  const local = new LocalGradients(trainable, exchange, globalSamples, stopVote, args.metrics);
  if ("xs" in args) {
    local.add(args);
  } else {
    for (const load of args.microBatches) {
      const batch = await load();
      try {
        local.add(batch);
      } finally {
        disposeBatch(batch);
      }
    }
  }
  const { payload, localLoss, localSamples } = local.result();
  const communicationStart = performance.now();
  const reduced = await allReduceSum(payload, exchange.reducedBuffer);
  const applyStart = performance.now();
  const { loss: globalLoss, weight, stop } = exchange.summary(reduced);
  if (Math.abs(weight - 1) > 1e-4) {
    throw new RingbookError(
      "ERR_SHARD_MISMATCH",
      `sample weights summed to ${weight} across ranks instead of 1: the ranks disagree on the global batch of this step`,
    );
  }
  if (args.clipping !== undefined) clipGradients(exchange.gradientsOf(reduced), args.clipping);
  if (isFusedOptimizer(optimizer)) optimizer.applyFlatGradients(exchange.gradientsOf(reduced));
  else tf.tidy(() => optimizer.applyGradients(exchange.unpack(reduced)));
  const end = performance.now();
  return {
    globalLoss,
    stop,
    localLoss,
    localSamples,
    timings: {
      computeMs: communicationStart - computeStart,
      communicationMs: applyStart - communicationStart,
      applyMs: end - applyStart,
    },
  };
}

/** Sums this rank's weighted gradients into the exchange's payload, one micro-batch at a time. */
class LocalGradients {
  readonly #trainable: Trainable;
  readonly #exchange: GradientExchange;
  readonly #globalSamples: number;
  readonly #stopVote: boolean;
  readonly #metrics: MetricSums | undefined;
  /** Set by the first micro-batch with samples; zeroed only for a rank that has none (a 1 MiB fill per step otherwise). */
  #payload: Float32Array | undefined;
  #samples = 0;
  #weightedLoss = 0;

  constructor(trainable: Trainable, exchange: GradientExchange, globalSamples: number, stopVote: boolean, metrics: MetricSums | undefined) {
    this.#metrics = metrics;
    this.#trainable = trainable;
    this.#exchange = exchange;
    this.#globalSamples = globalSamples;
    this.#stopVote = stopVote;
  }

  /** Adds a micro-batch (the caller owns its tensors). */
  add({ xs, ys }: MicroBatch): void {
    const samples = sampleCount(xs);
    if (samples === 0) return;
    const weight = samples / this.#globalSamples;
    const trainable = this.#trainable;
    const metrics = this.#metrics;
    const observe = metrics === undefined ? undefined : (outputs: readonly tf.Tensor[], targets: readonly tf.Tensor[]) => metrics.add(outputs, targets);
    // Differentiating weight × loss weights the gradients inside tfjs's backward pass (on its
    // backend), instead of a pass over a million values in JavaScript afterwards.
    const weightedLoss = weight === 1 ? () => trainable.loss(xs, ys, observe) : () => tf.mul(trainable.loss(xs, ys, observe), weight) as tf.Scalar;
    const { value, grads } = tf.variableGrads(weightedLoss, trainable.variables as tf.Variable[]);
    try {
      const weighted = value.dataSync()[0]!;
      this.#payload = this.#samples === 0 ? this.#exchange.pack(grads, weighted, weight, this.#stopVote) : this.#exchange.addToPayload(grads, weighted, weight);
      this.#samples += samples;
      this.#metrics?.count(samples);
      this.#weightedLoss += weighted;
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  }

  /** The payload to all-reduce, and this rank's mean loss (NaN without samples) over its samples. */
  result(): { payload: Float32Array; localLoss: number; localSamples: number } {
    const localLoss = this.#samples === 0 ? Number.NaN : (this.#weightedLoss * this.#globalSamples) / this.#samples;
    // A rank with no samples (a tiny last batch) contributes zeros with weight zero.
    const payload = this.#payload ?? this.#exchange.emptyPayload(this.#stopVote);
    return { payload, localLoss, localSamples: this.#samples };
  }
}
