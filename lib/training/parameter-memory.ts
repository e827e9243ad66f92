/**
 * Where trainable variables keep their values, for an optimizer that computes their new values
 * itself in one pass: the wasm heap (wasm, wasm-blas) or the cpu backend's own Float32Arrays.
 * libtensorflow's memory (tensorflow) is out of reach: there tfjs's optimizers run.
 *
 * New values always go to fresh tensors that then replace the variables' (`assign`), as tfjs's
 * optimizers do: tfjs shares a tensor's memory between tensors (a variable made from a tensor,
 * `clone`, `reshape`, the layers' `Identity`) and assumes it never changes, and wasm's XNNPACK
 * keeps packed weights keyed by tensor id: writing a variable in place made the next steps
 * multiply with the previous weights.
 */
import tf from "../tfjs.cjs";
import type { DataId, TensorInfo } from "@tensorflow/tfjs";

import { RingbookError } from "../errors.js";
import { wasmHeapOf, type WasmHeap } from "../backend/native/wasm-heap.js";

/** The cpu backend's view of its tensors (tfjs-backend-cpu 4.22's MathBackendCPU). */
interface CpuInternals {
  data: { get(dataId: DataId): { values?: unknown } | undefined };
}

/** Access to variables' values on the current backend. */
export type ParameterMemory =
  | { readonly kind: "wasm"; readonly heap: WasmHeap }
  | { readonly kind: "cpu"; readonly backend: CpuInternals };

/** The memory of the current backend's tensors, or undefined where it cannot be reached. */
export function currentParameterMemory(): ParameterMemory | undefined {
  const name = tf.getBackend();
  const backend: unknown = tf.backend();
  if (name === "wasm") {
    try {
      return { kind: "wasm", heap: wasmHeapOf(backend) };
    } catch {
      return undefined;
    }
  }
  if (name === "cpu") {
    const candidate = backend as Partial<CpuInternals>;
    if (typeof candidate.data?.get === "function") return { kind: "cpu", backend: candidate as CpuInternals };
  }
  return undefined;
}

/**
 * New values for some variables: read the old ones from {@link sources}, write the new ones into
 * {@link targets} (or, natively, through {@link segments}), then {@link commit} them (or
 * {@link abandon} after a failure). Views are valid until the next tfjs allocation.
 */
export class ParameterUpdate {
  readonly #memory: ParameterMemory;
  readonly #variables: readonly tf.Variable[];
  /** wasm: tensors made in the heap; cpu: plain arrays. */
  readonly #made: Array<TensorInfo | Float32Array>;
  #settled = false;

  constructor(memory: ParameterMemory, variables: readonly tf.Variable[]) {
    this.#memory = memory;
    this.#variables = variables;
    this.#made = memory.kind === "wasm" ? variables.map((v) => memory.heap.makeOutput(v.shape)) : variables.map((v) => new Float32Array(v.size));
  }

  /** The current values of each variable. */
  sources(): Float32Array[] {
    const memory = this.#memory;
    return this.#variables.map((variable) => {
      if (memory.kind === "wasm") return memory.heap.view(variable);
      const values = memory.backend.data.get(variable.dataId)?.values;
      if (!(values instanceof Float32Array) || values.length !== variable.size) {
        throw new RingbookError("ERR_PARAMETER_MEMORY", `variable ${variable.name}: the cpu backend holds no Float32Array of ${variable.size} values for it`);
      }
      return values;
    });
  }

  /** Where each variable's new values go. */
  targets(): Float32Array[] {
    const memory = this.#memory;
    return this.#made.map((made) => (made instanceof Float32Array ? made : (memory as { heap: WasmHeap }).heap.view(made)));
  }

  /** wasm only: (old values, new values, count) per variable, in bytes of the heap, for the addon. */
  segments(): { heap: ArrayBuffer; segments: Float64Array } {
    const memory = this.#memory;
    if (memory.kind !== "wasm") throw new RingbookError("ERR_PARAMETER_MEMORY", "native optimizer steps need the wasm heap");
    const segments = new Float64Array(this.#variables.length * 3);
    this.#variables.forEach((variable, i) => {
      segments[3 * i] = memory.heap.byteOffset(variable);
      segments[3 * i + 1] = memory.heap.byteOffset(this.#made[i] as TensorInfo);
      segments[3 * i + 2] = variable.size;
    });
    return { heap: memory.heap.buffer, segments };
  }

  /** The variables take their new values; the old ones are freed when nothing else holds them. */
  commit(): void {
    this.#settle();
    this.#variables.forEach((variable, i) => {
      const made = this.#made[i]!;
      const tensor = made instanceof Float32Array ? tf.tensor(made, variable.shape, "float32") : tf.engine().makeTensorFromTensorInfo(made);
      variable.assign(tensor);
      tensor.dispose();
    });
  }

  /** Frees the new values unused. */
  abandon(): void {
    this.#settle();
    const memory = this.#memory;
    if (memory.kind === "wasm") for (const made of this.#made) memory.heap.dispose(made as TensorInfo);
  }

  #settle(): void {
    if (this.#settled) throw new RingbookError("ERR_PARAMETER_MEMORY", "a parameter update was committed or abandoned twice");
    this.#settled = true;
  }
}
