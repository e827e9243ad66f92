import * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../errors.js";

/**
 * Packs the gradients of a fixed, ordered list of variables into one flat Float32Array for a single
 * all-reduce, and unpacks the reduced result. Three extra slots carry the weighted loss, the
 * weight and a stop vote, so one collective yields the averaged gradients, the global loss, a check
 * that the weights summed to one, and an agreement to stop after this step (every rank sees the
 * same votes, so all ranks stop at the same step and never wait for a rank that left).
 */
export class GradientExchange {
  readonly #variables: readonly tf.Variable[];
  readonly #offsets: number[];
  /** Number of gradient values (without the three trailing slots). */
  readonly gradientLength: number;

  constructor(variables: readonly tf.Variable[]) {
    this.#variables = variables;
    this.#offsets = [];
    let offset = 0;
    for (const variable of variables) {
      if (variable.dtype !== "float32") {
        throw new RingbookError("ERR_BAD_MODEL", `variable ${variable.name} has dtype ${variable.dtype}; only float32 variables can be trained`);
      }
      this.#offsets.push(offset);
      offset += variable.size;
    }
    this.gradientLength = offset;
  }

  /** Length of a packed payload. */
  get payloadLength(): number {
    return this.gradientLength + 3;
  }

  /**
   * The gradients (already weighted: the caller differentiates `weight × loss`, so no pass over
   * them here) for every variable (zeros where a variable got no gradient), then `weight × loss`,
   * `weight` and the stop vote. The array is new: the caller may hand it to a transport that keeps
   * it (zeromq sends large buffers without copying).
   */
  pack(weightedGrads: tf.NamedTensorMap, weightedLoss: number, weight: number, stopVote: boolean): Float32Array {
    // One concatenation on the backend and one read: a single new array per step, where a read
    // per variable and a copy into the payload made two (and twice the garbage to collect).
    const flat = tf.tidy(() =>
      tf.concat([
        ...this.#variables.map((variable) => {
          const grad = weightedGrads[variable.name];
          return grad === undefined ? tf.zeros([variable.size]) : tf.reshape(grad, [-1]);
        }),
        tf.tensor1d([weightedLoss, weight, stopVote ? 1 : 0]),
      ]),
    );
    try {
      return flat.dataSync() as Float32Array;
    } finally {
      flat.dispose();
    }
  }

  /** A payload for a rank with no samples this step: contributes nothing, weight zero. */
  emptyPayload(stopVote: boolean): Float32Array {
    const payload = new Float32Array(this.payloadLength);
    payload[this.gradientLength + 2] = stopVote ? 1 : 0;
    return payload;
  }

  /** Gradient tensors (caller disposes, e.g. inside `tf.tidy`) from a reduced payload. */
  unpack(reduced: Float32Array): tf.NamedTensorMap {
    if (reduced.length !== this.payloadLength) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `reduced gradient payload has ${reduced.length} values, expected ${this.payloadLength}`);
    }
    const named: tf.NamedTensorMap = {};
    this.#variables.forEach((variable, i) => {
      const offset = this.#offsets[i]!;
      named[variable.name] = tf.tensor(reduced.subarray(offset, offset + variable.size), variable.shape, "float32");
    });
    return named;
  }

  /** The global mean loss, the summed weight and whether any rank voted to stop. */
  summary(reduced: Float32Array): { loss: number; weight: number; stop: boolean } {
    return { loss: reduced[this.gradientLength]!, weight: reduced[this.gradientLength + 1]!, stop: reduced[this.gradientLength + 2]! > 0 };
  }

  /** All variable values, flat, in order (for broadcasts and checkpoints). */
  readWeights(): Float32Array {
    const flat = new Float32Array(this.gradientLength);
    this.#variables.forEach((variable, i) => flat.set(variable.dataSync() as Float32Array, this.#offsets[i]!));
    return flat;
  }

  /** Assigns all variables from a flat array made by {@link readWeights} (on any rank). */
  writeWeights(flat: Float32Array): void {
    if (flat.length !== this.gradientLength) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `weights payload has ${flat.length} values, the model has ${this.gradientLength}`);
    }
    tf.tidy(() => {
      this.#variables.forEach((variable, i) => {
        const offset = this.#offsets[i]!;
        variable.assign(tf.tensor(flat.subarray(offset, offset + variable.size), variable.shape, "float32"));
      });
    });
  }
}
