/**
 * A tf.data.Dataset streamed into training: every rank iterates it in order, groups its elements
 * into global batches of `batchSize`, and keeps its contiguous part of each (the rule of
 * {@link shardOf}), so that the global batches are exactly those of single-process training while
 * no rank holds more than one global batch.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { describeValue, hostLeaves, readSampleTree, type HostLeaf, type HostTree } from "../data/sample-arrays.js";
import type { TensorTree } from "../data/tensor-tree.js";
import { shardOf } from "./shard-plan.js";
import { fingerprintOf, type DataPlacement, type EpochBatches, type RankBatch, type TrainingData } from "./training-data.js";

/** One element of the stream, read into host memory. */
interface Element {
  xs: HostTree;
  ys: HostTree;
}

/** True for a tf.data.Dataset (of this or another copy of tfjs): it has `iterator()` and a `size`. */
export function isTfDataset(value: unknown): value is tf.data.Dataset<tf.TensorContainer> {
  if (value instanceof tf.data.Dataset) return true;
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { iterator?: unknown }).iterator === "function" &&
    typeof (value as { forEachAsync?: unknown }).forEachAsync === "function" &&
    "size" in value
  );
}

/**
 * Streams `dataset` (elements `{ xs, ys }`, one sample each) by global batches. Its order is the
 * dataset's own: ringbook cannot shuffle a stream (shuffle the dataset, with a seed, before
 * handing it over). Each epoch iterates a finite dataset from its start; an endless one (size
 * Infinity, after `.repeat()`) needs `stepsPerEpoch` and is read on across epochs (validation and
 * evaluation: `validationSteps` or `steps`, every pass from the start).
 */
export function streamTrainingData(dataset: tf.data.Dataset<tf.TensorContainer>, placement: DataPlacement, name = "tf.data.Dataset"): TrainingData {
  const { rank, worldSize, schedule } = placement;
  const { batchSize, stepsPerEpoch, dropRemainder } = schedule;
  if (schedule.shuffle === true) {
    throw new RingbookError(
      "ERR_STREAM_SHUFFLE",
      "shuffle: true cannot be applied to a tf.data.Dataset: ringbook reads a stream in its order. Shuffle the dataset itself with a seed (dataset.shuffle(bufferSize, seed)), so that every worker reads the same order, and leave shuffle out",
    );
  }
  const declared = dataset.size;
  const purpose = placement.purpose ?? "training";
  if (declared === Infinity && stepsPerEpoch === undefined) {
    throw new RingbookError(
      "ERR_ENDLESS_DATASET",
      purpose === "training"
        ? "the tf.data.Dataset is endless (size Infinity, e.g. after .repeat()): give stepsPerEpoch, or leave out .repeat() (every epoch reads the dataset again)"
        : `the ${purpose} tf.data.Dataset is endless (size Infinity, e.g. after .repeat()): give ${purpose === "validation" ? "validationSteps" : "steps"}, the number of batches to evaluate in each pass (as Keras's ${purpose === "validation" ? "validation_steps" : "steps"}), or leave out .repeat()`,
    );
  }
  if (declared === 0) throw new RingbookError("ERR_BAD_DATASET", "the tf.data.Dataset is empty (size 0)");
  const size = typeof declared === "number" && Number.isFinite(declared) ? declared : undefined;
  const perEpoch = size === undefined ? undefined : dropRemainder === true ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  const steps = perEpoch === undefined ? (declared === Infinity ? stepsPerEpoch : undefined) : Math.min(perEpoch, stepsPerEpoch ?? Infinity);
  // An endless dataset is read on across training epochs (as tfjs's fitDataset does with
  // batchesPerEpoch); a finite one, and every evaluation pass, from its start.
  const endless = declared === Infinity && purpose === "training";
  let shared: Cursor | undefined;
  return {
    kind: "stream",
    name,
    size,
    openEpoch(epoch: number, startStep: number): EpochBatches {
      const cursor = endless ? (shared ??= new Cursor(dataset)) : new Cursor(dataset);
      const epochStart = endless ? epoch * stepsPerEpoch! * batchSize : 0;
      let step = startStep;
      return {
        steps,
        next: async (): Promise<RankBatch | undefined> => {
          if (cursor.ended || (stepsPerEpoch !== undefined && step >= stepsPerEpoch)) return undefined;
          // Resuming: the elements before the start step are read and dropped.
          while (cursor.consumed < epochStart + step * batchSize && !cursor.ended) await cursor.read(epoch);
          const elements: Element[] = [];
          while (elements.length < batchSize) {
            const element = await cursor.read(epoch);
            if (element === undefined) break;
            elements.push(element);
          }
          if (elements.length === 0 || (elements.length < batchSize && dropRemainder === true)) {
            if (cursor.consumed === 0) throw new RingbookError("ERR_BAD_DATASET", "the tf.data.Dataset yielded no elements");
            return undefined;
          }
          step++;
          const firstIndex = cursor.consumed - elements.length;
          for (let k = 1; k < elements.length; k++) checkSameLayout(elements[0]!, elements[k]!, firstIndex, firstIndex + k, epoch);
          const head = elements[0]!;
          const positions = shardOf(Uint32Array.from({ length: elements.length }, (_, i) => i), rank, worldSize);
          const mine = elements.slice(positions[0] ?? 0, (positions[0] ?? 0) + positions.length);
          return {
            xs: stackTree(elements[0]!.xs, mine.map((e) => e.xs)),
            ys: stackTree(elements[0]!.ys, mine.map((e) => e.ys)),
            samples: mine.length,
            globalSamples: elements.length,
            fingerprint: () => fingerprintOf([...hostLeaves(head.xs, "xs"), ...hostLeaves(head.ys, "ys")].map(({ leaf }) => leaf.values)),
          };
        },
      };
    },
  };
}

/** A position in one iteration of the dataset. */
class Cursor {
  readonly #dataset: tf.data.Dataset<tf.TensorContainer>;
  #iterator: Awaited<ReturnType<tf.data.Dataset<tf.TensorContainer>["iterator"]>> | undefined;
  /** Elements read so far. */
  consumed = 0;
  ended = false;

  constructor(dataset: tf.data.Dataset<tf.TensorContainer>) {
    this.#dataset = dataset;
  }

  /** The next element read into host memory (its tensors disposed), or undefined at the end. */
  async read(epoch: number): Promise<Element | undefined> {
    this.#iterator ??= await this.#dataset.iterator();
    const result = await this.#iterator.next();
    if (result.done === true) {
      this.ended = true;
      return undefined;
    }
    const index = this.consumed++;
    try {
      return readElement(result.value, index, epoch);
    } finally {
      tf.dispose(result.value as tf.TensorContainer);
    }
  }
}

function readElement(value: unknown, index: number, epoch: number): Element {
  const where = `element ${index} of the tf.data.Dataset (epoch ${epoch + 1})`;
  if (typeof value !== "object" || value === null || !("xs" in value) || !("ys" in value)) {
    throw new RingbookError(
      "ERR_BAD_DATASET",
      `${where} is ${describeValue(value)}; ringbook trains on elements { xs, ys } of one sample each (e.g. dataset.map(({ x, y }) => ({ xs: x, ys: y })), and without .batch(): ringbook batches by batchSize)`,
    );
  }
  const extra = Object.keys(value).filter((key) => key !== "xs" && key !== "ys");
  if (extra.length > 0) throw new RingbookError("ERR_BAD_DATASET", `${where} has ${extra.join(", ")} besides xs and ys; ringbook reads only xs (the inputs) and ys (the targets)`);
  try {
    return { xs: readSampleTree(value.xs, "xs", { oneSample: true }), ys: readSampleTree(value.ys, "ys", { oneSample: true }) };
  } catch (error) {
    if (error instanceof RingbookError) throw new RingbookError(error.code, `${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

function layoutOf(tree: HostTree, path: string): string[] {
  return hostLeaves(tree, path).map(({ path: leafPath, leaf }) => `${leafPath} ${leaf.dtype} [${leaf.shape!.join(", ")}]`);
}

function checkSameLayout(first: Element, other: Element, firstIndex: number, otherIndex: number, epoch: number): void {
  const a = [...layoutOf(first.xs, "xs"), ...layoutOf(first.ys, "ys")];
  const b = [...layoutOf(other.xs, "xs"), ...layoutOf(other.ys, "ys")];
  if (a.length === b.length && a.every((entry, i) => entry === b[i])) return;
  throw new RingbookError(
    "ERR_BAD_DATASET",
    `element ${otherIndex} of the tf.data.Dataset (epoch ${epoch + 1}) has ${b.join(", ")} where element ${firstIndex} has ${a.join(", ")}; every element must have the same inputs and targets of the same shapes to be batched`,
  );
}

/** Stacks one leaf position of several samples into a `[n, ...shape]` tensor (n may be 0). */
function stack(reference: HostLeaf, leaves: HostLeaf[]): tf.Tensor {
  const shape = reference.shape!;
  const length = reference.values.length;
  const n = leaves.length;
  const out = reference.dtype === "float32" ? new Float32Array(n * length) : reference.dtype === "int32" ? new Int32Array(n * length) : new Uint8Array(n * length);
  leaves.forEach((leaf, i) => out.set(leaf.values, i * length));
  return tf.tensor(out, [n, ...shape], reference.dtype);
}

function stackTree(reference: HostTree, trees: HostTree[]): TensorTree {
  switch (reference.kind) {
    case "single":
      return stack(reference.leaf, trees.map((t) => (t as typeof reference).leaf));
    case "list":
      return reference.leaves.map((leaf, i) => stack(leaf, trees.map((t) => (t as typeof reference).leaves[i]!)));
    case "map":
      return Object.fromEntries(Object.entries(reference.leaves).map(([key, leaf]) => [key, stack(leaf, trees.map((t) => (t as typeof reference).leaves[key]!))]));
    default: {
      const impossible: never = reference;
      throw new RingbookError("ERR_BAD_DATASET", `unknown sample tree ${JSON.stringify(impossible)}`);
    }
  }
}
