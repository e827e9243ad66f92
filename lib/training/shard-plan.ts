import { RingbookError } from "../errors.js";
import { createSeededRandom, seededPermutation } from "../data/seeded-random.js";

/** One global batch: the sample indices every rank together processes in one step. */
export interface GlobalBatch {
  epoch: number;
  /** Step within the epoch, from 0. */
  stepInEpoch: number;
  indices: Uint32Array;
}

/** Options that decide which samples form each global batch. */
export interface EpochPlanOptions {
  datasetSize: number;
  /** Global batch size (all ranks together). */
  batchSize: number;
  seed: number;
  epoch: number;
  /** @default true */
  shuffle?: boolean;
  /** Drop a last batch smaller than `batchSize` instead of training on it. @default false */
  dropRemainder?: boolean;
}

/**
 * The global batches of one epoch. Identical on every rank (it depends only on the options), so
 * ranks agree on the samples of each step without talking.
 */
export function planEpoch(options: EpochPlanOptions): GlobalBatch[] {
  const { datasetSize, batchSize, seed, epoch } = options;
  if (!Number.isInteger(datasetSize) || datasetSize <= 0) {
    throw new RingbookError("ERR_BAD_DATASET", `dataset size must be a positive integer, got ${datasetSize}`);
  }
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RingbookError("ERR_BAD_OPTION", `batchSize must be a positive integer, got ${batchSize}`);
  }
  // Each epoch gets its own stream, derived from seed and epoch, so resuming at epoch k needs no replay.
  const order =
    options.shuffle === false
      ? Uint32Array.from({ length: datasetSize }, (_, i) => i)
      : seededPermutation(datasetSize, createSeededRandom(Math.imul(seed ^ 0x9e3779b9, 31) + epoch * 0x85ebca6b));
  const batches: GlobalBatch[] = [];
  for (let start = 0, step = 0; start < datasetSize; start += batchSize, step++) {
    const indices = order.subarray(start, Math.min(start + batchSize, datasetSize));
    if (indices.length < batchSize && options.dropRemainder === true) break;
    batches.push({ epoch, stepInEpoch: step, indices });
  }
  return batches;
}

/**
 * The contiguous part of a global batch that `rank` processes. Sizes differ by at most one (the
 * first `length % worldSize` ranks take one more); a rank may get no samples in a tiny last batch,
 * and then contributes a zero gradient with weight zero.
 */
export function shardOf(indices: Uint32Array, rank: number, worldSize: number): Uint32Array {
  if (!Number.isInteger(worldSize) || worldSize <= 0) {
    throw new RingbookError("ERR_BAD_OPTION", `worldSize must be a positive integer, got ${worldSize}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RingbookError("ERR_BAD_OPTION", `rank must be in [0, ${worldSize}), got ${rank}`);
  }
  const base = Math.floor(indices.length / worldSize);
  const extra = indices.length % worldSize;
  const start = rank * base + Math.min(rank, extra);
  const size = base + (rank < extra ? 1 : 0);
  return indices.subarray(start, start + size);
}
