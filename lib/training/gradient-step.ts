import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { sampleCount, type TensorTree } from "../data/tensor-tree.js";
import { isFusedOptimizer } from "./fused-optimizer.js";
import type { GradientExchange } from "./gradient-exchange.js";
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

/**
 * One synchronous data-parallel step: local gradients of the mean loss over this rank's shard,
 * weighted by `localSamples / globalSamples`, summed across ranks with one all-reduce, then applied
 * by the same optimizer on every rank. The result equals one step of single-process training on the
 * whole global batch: Σ_r (n_r / b) · mean_r(∇ℓ) = mean_b(∇ℓ), also for an uneven last batch.
 * `xs`/`ys` stay owned by the caller.
 */
export async function dataParallelStep(args: {
  trainable: Trainable;
  exchange: GradientExchange;
  optimizer: tf.Optimizer;
  /** This rank's inputs and targets (a tensor each, or arrays or maps of them: what the trainable takes). */
  xs: TensorTree;
  ys: TensorTree;
  globalSamples: number;
  allReduceSum: AllReduceSum;
  /** This rank asks all ranks to stop after this step. @default false */
  stopVote?: boolean;
}): Promise<StepOutcome> {
  const { trainable, exchange, optimizer, xs, ys, globalSamples, allReduceSum } = args;
  const stopVote = args.stopVote ?? false;
  const localSamples = sampleCount(xs);
  const computeStart = performance.now();
  let payload: Float32Array;
  let localLoss = Number.NaN;
  if (localSamples === 0) {
    payload = exchange.emptyPayload(stopVote);
  } else {
    const weight = localSamples / globalSamples;
    // Differentiating weight × loss weights the gradients inside tfjs's backward pass (on its
    // backend), instead of a pass over a million values in JavaScript afterwards.
    const weightedLoss = weight === 1 ? () => trainable.loss(xs, ys) : () => tf.mul(trainable.loss(xs, ys), weight) as tf.Scalar;
    const { value, grads } = tf.variableGrads(weightedLoss, trainable.variables as tf.Variable[]);
    try {
      const weighted = value.dataSync()[0]!;
      localLoss = weighted / weight;
      payload = exchange.pack(grads, weighted, weight, stopVote);
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  }
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
