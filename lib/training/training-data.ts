/**
 * The seam between the data a user brings and the training loop: every form of data (an
 * in-memory {@link Dataset} read by index, a streamed tf.data.Dataset) becomes a
 * {@link TrainingData} that hands each rank its part of every global batch, in the order that
 * single-process training sees them.
 */
import type tf from "../tfjs.cjs";
import type { Dataset } from "../data/dataset.js";
import { disposeBatch, treeLeaves, type Batch } from "../data/tensor-tree.js";
import type { TrainingSchedule } from "./rank-loop.js";
import { planEpoch, shardOf } from "./shard-plan.js";

/** This rank's part of one global batch. Its tensors belong to the caller, who disposes them. */
export interface RankBatch extends Batch {
  /** Samples in this rank's part (0 is possible in a small last batch). */
  samples: number;
  /** Samples in the whole global batch. */
  globalSamples: number;
  /**
   * A hash of the global batch's first sample: equal on every rank that reads the same data, so
   * the setup vote can tell ranks that read different data apart (computed only when called).
   */
  fingerprint(): number;
}

/**
 * A 24-bit hash of float values (exact in a Float32Array slot, so it can ride the setup vote's
 * all-reduce).
 */
export function fingerprintOf(chunks: Iterable<ArrayLike<number>>): number {
  const float = new Float32Array(1);
  const bits = new Uint32Array(float.buffer);
  let hash = 0x811c9dc5;
  for (const chunk of chunks) {
    hash = Math.imul(hash ^ chunk.length, 16777619);
    for (let i = 0; i < chunk.length; i++) {
      float[0] = chunk[i]!;
      hash = Math.imul(hash ^ bits[0]!, 16777619);
    }
  }
  return hash >>> 8;
}

/** The batches of one epoch as one rank sees them. */
export interface EpochBatches {
  /** Global batches in the epoch, counted from its first (`stepsPerEpoch` applied), when known in advance. */
  readonly steps: number | undefined;
  /** This rank's part of the next global batch, or `undefined` after the epoch's last. */
  next(): Promise<RankBatch | undefined>;
}

/** Training data as the training loop reads it. */
export interface TrainingData {
  readonly kind: "indexed" | "stream";
  /** Shown in messages. */
  readonly name: string;
  /** Samples in one epoch, when known (a stream may not know it). */
  readonly size: number | undefined;
  /** The batches of `epoch`, starting at step `startStep` (when resuming); every call reads the data afresh. */
  openEpoch(epoch: number, startStep: number): EpochBatches;
}

/** Where the data is read: this rank in a world of `worldSize`, on `schedule`. */
export interface DataPlacement {
  rank: number;
  worldSize: number;
  schedule: TrainingSchedule;
  /**
   * What the data is read for. Training reads an endless stream on across epochs; validation and
   * evaluation read every pass from the stream's start (as Keras and tfjs evaluate), and name
   * their own option (`validationSteps`, `steps`) when an endless stream needs a bound.
   * @default "training"
   */
  purpose?: "training" | "validation" | "evaluation";
}

/**
 * An in-memory data set read by index: each epoch's global batches come from
 * {@link planEpoch} (shuffled by the run's seed unless `shuffle: false`), each rank gathers its
 * contiguous {@link shardOf} them.
 */
export function indexedTrainingData(dataset: Dataset, placement: DataPlacement): TrainingData {
  const { rank, worldSize, schedule } = placement;
  return {
    kind: "indexed",
    name: dataset.name,
    size: dataset.size,
    openEpoch(epoch, startStep) {
      const allBatches = planEpoch({
        datasetSize: dataset.size,
        batchSize: schedule.batchSize,
        seed: schedule.seed,
        epoch,
        ...(schedule.shuffle === undefined ? {} : { shuffle: schedule.shuffle }),
        ...(schedule.dropRemainder === undefined ? {} : { dropRemainder: schedule.dropRemainder }),
      });
      const batches = schedule.stepsPerEpoch === undefined ? allBatches : allBatches.slice(0, schedule.stepsPerEpoch);
      let step = startStep;
      return {
        steps: batches.length,
        next: async () => {
          const batch = batches[step];
          if (batch === undefined) return undefined;
          step++;
          const shard = shardOf(batch.indices, rank, worldSize);
          const { xs, ys } = dataset.batch(shard);
          const fingerprint = (): number => {
            const first = dataset.batch(batch.indices.subarray(0, 1));
            try {
              return fingerprintOf([...treeLeaves(first.xs), ...treeLeaves(first.ys)].map((t: tf.Tensor) => t.dataSync() as ArrayLike<number>));
            } finally {
              disposeBatch(first);
            }
          };
          return { xs, ys, samples: shard.length, globalSamples: batch.indices.length, fingerprint };
        },
      };
    },
  };
}
