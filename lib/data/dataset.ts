import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";

/**
 * A labelled classification data set held in memory. Training gathers each rank's samples of a
 * global batch by index, so every rank can hold the whole set and shard it without coordination.
 */
export interface Dataset {
  readonly name: string;
  readonly size: number;
  /** Shape of one sample, e.g. [784] or [28, 28, 1]. */
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  /** Dense inputs `[n, ...sampleShape]` and one-hot labels `[n, numClasses]` for these samples. */
  batch(indices: Uint32Array): { xs: tf.Tensor; ys: tf.Tensor };
}

/** A {@link Dataset} over flat feature and label arrays. */
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
