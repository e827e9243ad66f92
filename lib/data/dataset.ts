import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import type { Batch } from "./tensor-tree.js";

/**
 * A data set held in memory, read by sample index. Training gathers each rank's samples of a
 * global batch by index, so every rank can hold the whole set and shard it without coordination.
 * {@link TensorDataset} holds any inputs and targets; {@link ArrayDataset} is its fast special case
 * for classification (float features, class labels given as one-hot targets).
 */
export interface Dataset {
  readonly name: string;
  readonly size: number;
  /**
   * The samples at `indices`, in that order: inputs `xs` and targets `ys` (a tensor each, or an
   * array or name map of tensors for models with several inputs or outputs), samples along the
   * first axis. The caller disposes them.
   */
  batch(indices: Uint32Array): Batch;
}

/**
 * A classification {@link Dataset} over flat feature and label arrays: float32 inputs
 * `[n, ...sampleShape]` and one-hot float32 targets `[n, numClasses]` (for
 * `categoricalCrossentropy`). Any other inputs or targets (regression, sparse labels, several
 * inputs or outputs): {@link TensorDataset}.
 *
 * @example
 * new ArrayDataset({ name: "xor", features: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), labels: Uint8Array.of(0, 1, 1, 0), sampleShape: [2], numClasses: 2 });
 */
export class ArrayDataset implements Dataset {
  readonly name: string;
  readonly size: number;
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  readonly #features: Float32Array;
  readonly #labels: Uint8Array;
  readonly #sampleLength: number;

  /**
   * @param features `size × product(sampleShape)` values, sample-major.
   * @param labels class index per sample, each in `[0, numClasses)`.
   */
  constructor(options: {
    name: string;
    features: Float32Array;
    labels: Uint8Array;
    sampleShape: readonly number[];
    numClasses: number;
  }) {
    const sampleLength = options.sampleShape.reduce((a, b) => a * b, 1);
    if (options.labels.length === 0 || options.features.length !== options.labels.length * sampleLength) {
      throw new RingbookError(
        "ERR_BAD_DATASET",
        `dataset "${options.name}": ${options.features.length} feature values do not match ` +
          `${options.labels.length} labels × sample shape [${options.sampleShape.join(", ")}]`,
      );
    }
    const badLabel = options.labels.findIndex((label) => label >= options.numClasses);
    if (badLabel >= 0) {
      throw new RingbookError(
        "ERR_BAD_DATASET",
        `dataset "${options.name}": label ${options.labels[badLabel]} of sample ${badLabel} is not below numClasses ${options.numClasses}`,
      );
    }
    this.name = options.name;
    this.size = options.labels.length;
    this.sampleShape = [...options.sampleShape];
    this.numClasses = options.numClasses;
    this.#features = options.features;
    this.#labels = options.labels;
    this.#sampleLength = sampleLength;
  }

  batch(indices: Uint32Array): { xs: tf.Tensor; ys: tf.Tensor } {
    const n = indices.length;
    const xs = new Float32Array(n * this.#sampleLength);
    const ys = new Float32Array(n * this.numClasses);
    for (let i = 0; i < n; i++) {
      const sample = indices[i]!;
      if (sample >= this.size) {
        throw new RingbookError("ERR_BAD_INDEX", `dataset "${this.name}" has ${this.size} samples, asked for index ${sample}`);
      }
      xs.set(this.#features.subarray(sample * this.#sampleLength, (sample + 1) * this.#sampleLength), i * this.#sampleLength);
      ys[i * this.numClasses + this.#labels[sample]!] = 1;
    }
    return {
      xs: tf.tensor(xs, [n, ...this.sampleShape], "float32"),
      ys: tf.tensor2d(ys, [n, this.numClasses], "float32"),
    };
  }

  /** The samples `[start, end)` as a new data set (for train/test splits). */
  slice(start: number, end: number, name = `${this.name}[${start}:${end}]`): ArrayDataset {
    return new ArrayDataset({
      name,
      features: this.#features.slice(start * this.#sampleLength, end * this.#sampleLength),
      labels: this.#labels.slice(start, end),
      sampleShape: this.sampleShape,
      numClasses: this.numClasses,
    });
  }
}
