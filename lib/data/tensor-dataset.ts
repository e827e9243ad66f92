import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import type { Dataset } from "./dataset.js";
import { hostLeaves, mapHostTree, readSampleTree, type HostLeaf, type HostTree, type SampleTree } from "./sample-arrays.js";
import type { TensorTree } from "./tensor-tree.js";

/** Options of {@link TensorDataset}. */
export interface TensorDatasetOptions {
  /** The inputs: one array of samples, an array of them (several inputs, in the model's order) or a map from input names. */
  xs: SampleTree;
  /** The targets, in the same forms (several outputs: in the model's order, or by output name). */
  ys: SampleTree;
  /** Shown in messages. @default "tensors" */
  name?: string;
  /**
   * The number of samples, needed only when every array is a flat typed array holding several
   * values per sample. @default the first axis of the shaped arrays, else the length of the shortest flat array
   */
  size?: number;
}

/**
 * An in-memory {@link Dataset} of any inputs and targets: features of any shape, regression
 * targets, class indices (for `sparseCategoricalCrossentropy`) or one-hot labels, several inputs
 * or outputs. Each array may be a tf.Tensor, a typed array, nested JavaScript arrays or
 * `{ values, shape, dtype? }`, of dtype float32, int32 or bool, samples along the first axis. The
 * values are read into host arrays (tensors are read once and stay yours to dispose; a
 * Float32Array or Int32Array is used as it is, not copied: do not change it while training);
 * batches are gathered from them by index.
 *
 * A flat typed array holds its samples one after another: its sample count comes from the other
 * arrays (or `size`), e.g. `xs: Float32Array` of `n × 4` values beside `ys: Int32Array` of `n`
 * labels gives inputs `[n, 4]` and targets `[n]`. Given directly as `data: { xs, ys }`, ringbook
 * reads flat arrays in the shape of the model's inputs and outputs instead.
 *
 * @example
 * // In a data function: ringbook's exports are in scope there (`TensorDataset`, or `ringbook.TensorDataset`).
 * data: ({ args }) => new TensorDataset({ xs: { image: args.images, meta: args.meta }, ys: args.prices }),
 */
export class TensorDataset implements Dataset {
  readonly name: string;
  readonly size: number;
  readonly #xs: HostTree;
  readonly #ys: HostTree;

  constructor(options: TensorDatasetOptions) {
    if (typeof options !== "object" || options === null || !("xs" in options) || !("ys" in options)) {
      throw new RingbookError("ERR_BAD_DATA", "new TensorDataset needs { xs, ys }: the inputs and the targets");
    }
    this.name = options.name ?? "tensors";
    const xs = readSampleTree(options.xs, "xs");
    const ys = readSampleTree(options.ys, "ys");
    this.size = sampleCountOf([...hostLeaves(xs, "xs"), ...hostLeaves(ys, "ys")], options.size, this.name);
    const shaped = (tree: HostTree, path: string): HostTree =>
      mapHostTree(tree, (leaf, key) => withSampleShape(leaf, this.size, tree.kind === "single" ? path : typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`, this.name));
    this.#xs = shaped(xs, "xs");
    this.#ys = shaped(ys, "ys");
  }

  batch(indices: Uint32Array): { xs: TensorTree; ys: TensorTree } {
    for (let i = 0; i < indices.length; i++) {
      if (indices[i]! >= this.size) {
        throw new RingbookError("ERR_BAD_INDEX", `dataset "${this.name}" has ${this.size} samples, asked for index ${indices[i]}`);
      }
    }
    return { xs: gatherTree(this.#xs, indices), ys: gatherTree(this.#ys, indices) };
  }

  /** The samples `[start, end)` as a new data set (for train/validation splits); shares no memory with this one. */
  slice(start: number, end: number, name = `${this.name}[${start}:${end}]`): TensorDataset {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.size || start >= end) {
      throw new RingbookError("ERR_BAD_OPTION", `slice(${start}, ${end}) of dataset "${this.name}" with ${this.size} samples: need 0 <= start < end <= ${this.size}`);
    }
    const part = (tree: HostTree): SampleTree => {
      const cut = (leaf: HostLeaf) => {
        const shape = leaf.shape!;
        const length = shape.slice(1).reduce((a, b) => a * b, 1);
        return { values: leaf.values.slice(start * length, end * length), shape: [end - start, ...shape.slice(1)], dtype: leaf.dtype };
      };
      switch (tree.kind) {
        case "single":
          return cut(tree.leaf);
        case "list":
          return tree.leaves.map(cut);
        case "map":
          return Object.fromEntries(Object.entries(tree.leaves).map(([key, leaf]) => [key, cut(leaf)]));
        default: {
          const impossible: never = tree;
          throw new RingbookError("ERR_BAD_DATA", `unknown sample tree ${JSON.stringify(impossible)}`);
        }
      }
    };
    return new TensorDataset({ name, xs: part(this.#xs), ys: part(this.#ys) });
  }
}

function sampleCountOf(leaves: Array<{ path: string; leaf: HostLeaf }>, given: number | undefined, name: string): number {
  if (given !== undefined && (!Number.isInteger(given) || given <= 0)) {
    throw new RingbookError("ERR_BAD_DATA", `dataset "${name}": size must be a positive integer, got ${JSON.stringify(given)}`);
  }
  const shaped = leaves.filter(({ leaf }) => leaf.shape !== undefined);
  const reference = shaped[0] ?? (given === undefined ? [...leaves].sort((a, b) => a.leaf.values.length - b.leaf.values.length)[0] : undefined);
  const size = given ?? (reference?.leaf.shape?.[0] ?? reference?.leaf.values.length ?? 0);
  for (const { path, leaf } of shaped) {
    if (leaf.shape![0] !== size) {
      const other = given === undefined ? `${reference!.path} has ${size}` : `size is ${size}`;
      throw new RingbookError("ERR_BAD_DATA", `dataset "${name}": ${path} has ${leaf.shape![0]} samples but ${other}; every input and target needs one entry per sample`);
    }
  }
  if (size <= 0) throw new RingbookError("ERR_BAD_DATA", `dataset "${name}" has no samples`);
  return size;
}

/** Gives a flat typed array its shape: one value per sample, or a vector of `length / size` values. */
function withSampleShape(leaf: HostLeaf, size: number, path: string, name: string): HostLeaf {
  if (leaf.shape !== undefined) return leaf;
  const length = leaf.values.length;
  if (length % size !== 0) {
    throw new RingbookError(
      "ERR_BAD_DATA",
      `dataset "${name}": ${path} has ${length} values, which is not a whole number of values for each of the ${size} samples; give it a shape ({ values, shape: [${size}, ...] }) or check its length`,
    );
  }
  return { ...leaf, shape: length === size ? [size] : [size, length / size] };
}

function gatherTree(tree: HostTree, indices: Uint32Array): TensorTree {
  switch (tree.kind) {
    case "single":
      return gather(tree.leaf, indices);
    case "list":
      return tree.leaves.map((leaf) => gather(leaf, indices));
    case "map":
      return Object.fromEntries(Object.entries(tree.leaves).map(([name, leaf]) => [name, gather(leaf, indices)]));
    default: {
      const impossible: never = tree;
      throw new RingbookError("ERR_BAD_DATA", `unknown sample tree ${JSON.stringify(impossible)}`);
    }
  }
}

/** Copies the samples at `indices` into a new buffer, handed to tfjs without another copy. */
function gather(leaf: HostLeaf, indices: Uint32Array): tf.Tensor {
  const sampleShape = leaf.shape!.slice(1);
  const length = sampleShape.reduce((a, b) => a * b, 1);
  const n = indices.length;
  const source = leaf.values;
  const out = leaf.dtype === "float32" ? new Float32Array(n * length) : leaf.dtype === "int32" ? new Int32Array(n * length) : new Uint8Array(n * length);
  if (length === 1) {
    for (let i = 0; i < n; i++) out[i] = source[indices[i]!]!;
  } else {
    for (let i = 0; i < n; i++) {
      const sample = indices[i]!;
      out.set(source.subarray(sample * length, (sample + 1) * length), i * length);
    }
  }
  return tf.tensor(out, [n, ...sampleShape], leaf.dtype);
}
