/**
 * Gradient accumulation: an optimizer step over `k` consecutive micro-batches of an epoch's plan.
 * Their gradients are summed on each rank (each micro-batch weighted by its share of all `k`
 * micro-batches' samples) and exchanged in one all-reduce, so a step equals one step on the `k`
 * micro-batches as a single global batch of `k × batchSize` samples; the last group of an epoch
 * may have fewer micro-batches (and its last micro-batch fewer samples), weighted the same way.
 */
import { RingbookError } from "../errors.js";
import type { GlobalBatch } from "./shard-plan.js";

/**
 * The optimizer steps of an epoch: its micro-batches in groups of `accumulationSteps`, in order.
 * @example groupMicroBatches(planEpoch({ datasetSize: 100, batchSize: 20, seed: 0, epoch: 0 }), 2).map((g) => g.length) // [2, 2, 1]
 */
export function groupMicroBatches(batches: readonly GlobalBatch[], accumulationSteps: number): GlobalBatch[][] {
  if (!Number.isInteger(accumulationSteps) || accumulationSteps < 1) {
    throw new RingbookError("ERR_BAD_OPTION", `accumulationSteps must be a positive integer, got ${accumulationSteps}`);
  }
  const groups: GlobalBatch[][] = [];
  for (let start = 0; start < batches.length; start += accumulationSteps) groups.push(batches.slice(start, start + accumulationSteps));
  return groups;
}
