import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";

/** The wasm backend's view of a tensor in its memory (tfjs-backend-wasm's BackendWasm). */
interface WasmHeapViews {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * A float32 tensor's values, to be copied at once. On wasm, a view of the backend's memory:
 * `dataSync` there returns a fresh copy (a megabyte of garbage per step for an MLP's gradients),
 * and the view is only read before anything else runs on the backend. Elsewhere `dataSync` (the
 * cpu backend returns its own array, tensorflow copies from native memory anyway).
 */
function readFloats(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as Partial<WasmHeapViews>;
  if (tensor.dtype === "float32" && tf.getBackend() === "wasm" && typeof backend.typedArrayFromHeap === "function") {
    return backend.typedArrayFromHeap({ dataId: tensor.dataId, shape: tensor.shape, dtype: "float32" });
  }
  return tensor.dataSync() as Float32Array;
}

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
  readonly #payload: Float32Array;
  readonly #reduced: Float32Array;

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
    this.#payload = new Float32Array(this.payloadLength);
    this.#reduced = new Float32Array(this.payloadLength);
  }

  /** Length of a packed payload. */
  get payloadLength(): number {
    return this.gradientLength + 3;
  }

  /**
   * The gradients (already weighted: the caller differentiates `weight × loss`, so no pass over
   * them here) for every variable (zeros where a variable got no gradient), then `weight × loss`,
   * `weight` and the stop vote, in this exchange's payload array. The same array is refilled at
   * every step, so the all-reduce of the previous step must have resolved (it then no longer
   * refers to its input). A fresh megabyte per step kept V8's external memory high enough to
   * trigger a full collection every few steps.
   */
  pack(weightedGrads: tf.NamedTensorMap, weightedLoss: number, weight: number, stopVote: boolean): Float32Array {
    const payload = this.#payload;
    this.#variables.forEach((variable, i) => {
      const offset = this.#offsets[i]!;
      const grad = weightedGrads[variable.name];
      if (grad === undefined) {
        payload.fill(0, offset, offset + variable.size);
      } else if (grad.size !== variable.size) {
        throw new RingbookError("ERR_BAD_MODEL", `the gradient of ${variable.name} has ${grad.size} values, the variable ${variable.size}`);
      } else {
        payload.set(readFloats(grad), offset);
      }
    });
    payload[this.gradientLength] = weightedLoss;
    payload[this.gradientLength + 1] = weight;
    payload[this.gradientLength + 2] = stopVote ? 1 : 0;
    return payload;
  }

  /**
   * Adds one more micro-batch's weighted gradients, weighted loss and weight to the payload that
   * {@link pack} (or {@link emptyPayload}) began: gradient accumulation sums k micro-batches here
   * before the one all-reduce of the step.
   */
  addToPayload(weightedGrads: tf.NamedTensorMap, weightedLoss: number, weight: number): Float32Array {
    const payload = this.#payload;
    this.#variables.forEach((variable, i) => {
      const grad = weightedGrads[variable.name];
      if (grad === undefined) return;
      if (grad.size !== variable.size) {
        throw new RingbookError("ERR_BAD_MODEL", `the gradient of ${variable.name} has ${grad.size} values, the variable ${variable.size}`);
      }
      const values = readFloats(grad);
      const offset = this.#offsets[i]!;
      for (let j = 0; j < values.length; j++) payload[offset + j]! += values[j]!;
    });
    payload[this.gradientLength]! += weightedLoss;
    payload[this.gradientLength + 1]! += weight;
    return payload;
  }

  /** A payload for a rank with no samples this step: contributes nothing, weight zero. */
  emptyPayload(stopVote: boolean): Float32Array {
    const payload = this.#payload;
    payload.fill(0);
    payload[this.gradientLength + 2] = stopVote ? 1 : 0;
    return payload;
  }

  /**
   * Where the all-reduce writes the reduced payload (its `into`): one array for the whole run,
   * read by {@link unpack} and {@link summary} before the next step.
   */
  get reducedBuffer(): Float32Array {
    return this.#reduced;
  }

  /**
   * Gradient tensors (caller disposes, e.g. inside `tf.tidy`) from a reduced payload. The
   * tensors do not refer to `reduced`, which may be refilled once they are made.
   */
  unpack(reduced: Float32Array): tf.NamedTensorMap {
    if (reduced.length !== this.payloadLength) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `reduced gradient payload has ${reduced.length} values, expected ${this.payloadLength}`);
    }
    // wasm and tensorflow copy a tensor's values into their own memory; the cpu backend keeps the
    // array it is given, so it gets a copy.
    const keepsValues = tf.getBackend() === "cpu";
    const named: tf.NamedTensorMap = {};
    this.#variables.forEach((variable, i) => {
      const offset = this.#offsets[i]!;
      const values = reduced.subarray(offset, offset + variable.size);
      named[variable.name] = tf.tensor(keepsValues ? values.slice() : values, variable.shape, "float32");
    });
    return named;
  }

  /**
   * The reduced gradients of all variables, flat in variable order: a view of `reduced` (no
   * copy), for an optimizer that takes them as they are.
   */
  gradientsOf(reduced: Float32Array): Float32Array {
    if (reduced.length !== this.payloadLength) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `reduced gradient payload has ${reduced.length} values, expected ${this.payloadLength}`);
    }
    return reduced.subarray(0, this.gradientLength);
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
