/**
 * Distributed evaluation: each rank evaluates its shard of every batch of a data set in inference
 * mode, adds up loss × samples, metric sums and samples, and the ranks all-reduce those sums once,
 * so every rank gets the same `val_loss` and `val_<metric>`, equal to single-process evaluation on
 * the whole set (up to float rounding). Used for `validationData` and `cluster.evaluate`.
 */
import { RingbookError } from "../errors.js";
import { disposeBatch } from "../data/tensor-tree.js";
import type { AllReduceSum } from "./gradient-step.js";
import { MetricSums, type ResolvedMetric } from "./metrics.js";
import type { Trainable } from "./trainable.js";
import type { TrainingData } from "./training-data.js";

/** When validation runs: every `steps` optimizer steps, and/or at every `epochs`-th epoch's end. */
export interface ValidationEvery {
  steps?: number;
  epochs?: number;
}

/** One validation pass as the owner sees it (from rank 0; every rank has the same). */
export interface ValidationRecord {
  epoch: number;
  /** The global step after which it ran. */
  step: number;
  /** `val_loss` and `val_<metric>`. */
  logs: Record<string, number>;
  /** Samples evaluated (all ranks). */
  samples: number;
}

/**
 * Evaluates the trainable on all of `data` (one epoch of it, in order), distributed: every rank
 * must call this at the same point with the same data. One all-reduce per pass.
 * @returns the logs (`<prefix>loss`, `<prefix><metric>`) and the samples evaluated.
 */
export async function evaluateOnRanks(args: {
  trainable: Trainable;
  data: TrainingData;
  metrics: readonly ResolvedMetric[];
  allReduceSum: AllReduceSum;
  prefix: string;
}): Promise<{ logs: Record<string, number>; samples: number }> {
  const { trainable, metrics } = args;
  const sums = new MetricSums(metrics);
  const batches = args.data.openEpoch(0, 0);
  const observe = metrics.length === 0 ? undefined : sums.add.bind(sums);
  for (let batch = await batches.next(); batch !== undefined; batch = await batches.next()) {
    try {
      if (batch.samples === 0) continue;
      const loss = trainable.evaluateLoss(batch.xs, batch.ys, observe);
      try {
        sums.addLoss(loss.dataSync()[0]!, batch.samples);
      } finally {
        loss.dispose();
      }
      sums.count(batch.samples);
    } finally {
      disposeBatch(batch);
    }
  }
  const reduced = await args.allReduceSum(sums.payload);
  const samples = reduced[1]!;
  if (samples === 0) throw new RingbookError("ERR_BAD_VALIDATION_DATA", `the ${args.prefix === "val_" ? "validation " : ""}data "${args.data.name}" gave no samples to evaluate`);
  return { logs: sums.logs(reduced, { prefix: args.prefix, withLoss: true }), samples };
}
