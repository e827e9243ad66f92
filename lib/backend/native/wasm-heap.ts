/**
 * The seam between ringbook and tfjs-backend-wasm's internals, in one file: where a tensor's
 * values lie in the wasm heap, the heap itself, and making an output tensor there. Native
 * kernels read and write tensors in place through it (zero-copy).
 *
 * These are not public tfjs API. They are read from the backend object and checked here, and the
 * versions they were read from are pinned (package.json pins 4.22.0 exactly): a tfjs that moved
 * them makes {@link wasmHeapOf} throw a {@link WasmInternalsError} naming what changed, which
 * turns the native backend off (plain wasm, with that reason in `describe()`) instead of reading
 * the wrong memory; test/backend/wasm-internals.test.ts fails loudly on such an upgrade.
 *
 * Relied on (tfjs-backend-wasm 4.22.0, src/backend_wasm.ts):
 * - `backend.wasm.HEAPU8`: a Uint8Array over the WebAssembly memory, replaced by Emscripten when
 *   the memory grows (so the buffer is read again after every allocation);
 * - `backend.dataIdMap.get(dataId)`: `{ memoryOffset, shape, dtype, refCount }`, the byte offset
 *   of a tensor's values in that memory;
 * - `backend.makeOutput(shape, dtype)`: allocates a tensor in that memory and returns its info;
 * - `backend.disposeData(dataId)` and `backend.refCount(dataId)`;
 * - `backend.wasm.asm.memory`: the WebAssembly.Memory itself (optional: without it the fused
 *   optimizer's SIMD loops are not used).
 */
import tf from "../../tfjs.cjs";
import type { DataId, TensorInfo } from "@tensorflow/tfjs";

import { RingbookError } from "../../errors.js";

/** The tfjs versions whose wasm backend internals this file was written against. */
export const pinnedTfjsVersions = { "tfjs-core": "4.22.0", "tfjs-backend-wasm": "4.22.0" } as const;

/** Raised when tfjs-backend-wasm's internals are not what the zero-copy path needs. */
export class WasmInternalsError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_WASM_INTERNALS", message, options);
  }
}

interface TensorRecord {
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}

interface BackendWasmInternals {
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: DataId): TensorRecord | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  refCount(dataId: DataId): number;
}

/** Zero-copy access to the wasm backend's memory. */
export class WasmHeap {
  readonly #backend: BackendWasmInternals;

  constructor(backend: BackendWasmInternals) {
    this.#backend = backend;
  }

  /**
   * The heap's current ArrayBuffer. Read it after the last allocation of a kernel (an allocation
   * may grow the memory, which detaches the previous buffer) and pass it straight to native code.
   */
  get buffer(): ArrayBuffer {
    return this.#backend.wasm.HEAPU8.buffer as ArrayBuffer;
  }

  /**
   * The WebAssembly.Memory behind the heap (Emscripten exports it as `asm.memory`), for a module
   * of ringbook's own to import; undefined if it is not there.
   */
  get memory(): object | undefined {
    const memory = this.#backend.wasm.asm?.memory;
    const api = (globalThis as { WebAssembly?: { Memory: abstract new (...args: never[]) => object } }).WebAssembly;
    return api !== undefined && memory instanceof api.Memory ? memory : undefined;
  }

  /** Byte offset of a float32 tensor's values. */
  byteOffset(info: TensorInfo): number {
    const record = this.#backend.dataIdMap.get(info.dataId);
    if (record === undefined) throw new WasmInternalsError(`tensor of shape [${info.shape.join(",")}] is not in the wasm backend's memory (disposed, or on another backend)`);
    return record.memoryOffset;
  }

  /** How many tensors share a tensor's memory. */
  refCount(dataId: DataId): number {
    return this.#backend.refCount(dataId);
  }

  /** A new uninitialised float32 tensor in the heap. */
  makeOutput(shape: readonly number[]): TensorInfo {
    return this.#backend.makeOutput([...shape], "float32");
  }

  /** Frees a tensor made by {@link makeOutput} (after a failure). */
  dispose(info: TensorInfo): void {
    this.#backend.disposeData(info.dataId);
  }

  /** A Float32Array over a tensor's values (valid until the next allocation in the heap). */
  view(info: TensorInfo): Float32Array {
    return new Float32Array(this.buffer, this.byteOffset(info), tf.util.sizeFromShape(info.shape));
  }
}

const heaps = new WeakMap<object, WasmHeap>();

/**
 * The {@link WasmHeap} of a tfjs-backend-wasm backend object (a kernel's `backend` argument, or
 * `tf.findBackend("wasm")`), checking that the internals listed above are there.
 * @throws {@link WasmInternalsError} when they are not.
 */
export function wasmHeapOf(backend: unknown): WasmHeap {
  if (typeof backend !== "object" || backend === null) throw new WasmInternalsError(`expected the wasm backend object, got ${String(backend)}`);
  const known = heaps.get(backend);
  if (known !== undefined) return known;
  const candidate = backend as Partial<Record<keyof BackendWasmInternals, unknown>>;
  const problems: string[] = [];
  const wasm = candidate.wasm as { HEAPU8?: unknown } | undefined;
  if (!(wasm?.HEAPU8 instanceof Uint8Array)) problems.push("backend.wasm.HEAPU8 is not a Uint8Array");
  const map = candidate.dataIdMap as { get?: unknown } | undefined;
  if (typeof map?.get !== "function") problems.push("backend.dataIdMap.get is not a function");
  for (const method of ["makeOutput", "disposeData", "refCount"] as const) {
    if (typeof candidate[method] !== "function") problems.push(`backend.${method} is not a function`);
  }
  if (problems.length > 0) throw new WasmInternalsError(`tfjs-backend-wasm's internals changed: ${problems.join("; ")}`);
  const heap = new WasmHeap(backend as BackendWasmInternals);
  heaps.set(backend, heap);
  return heap;
}

/**
 * Checks that the running tfjs is the pinned version and that a tensor made in the wasm heap is
 * where {@link WasmHeap} says: writes through a heap view and reads back through tfjs. Returns
 * the heap, or throws a {@link WasmInternalsError} saying what differs.
 */
export function checkWasmInternals(wasmVersion: string): WasmHeap {
  const versions = { "tfjs-core": tf.version_core, "tfjs-backend-wasm": wasmVersion };
  const drifted = Object.entries(pinnedTfjsVersions).filter(([name, pinned]) => versions[name as keyof typeof versions] !== pinned);
  if (drifted.length > 0) {
    throw new WasmInternalsError(
      `the zero-copy kernels were written against ${Object.entries(pinnedTfjsVersions).map(([n, v]) => `${n} ${v}`).join(" and ")}; ` +
      `this process has ${drifted.map(([name]) => `${name} ${versions[name as keyof typeof versions]}`).join(" and ")}`,
    );
  }
  const backend = tf.findBackend("wasm");
  if (backend === null) throw new WasmInternalsError("the wasm backend is not initialised");
  const heap = wasmHeapOf(backend);
  const probe = heap.makeOutput([3]);
  try {
    heap.view(probe).set([1.5, -2, 4096.25]);
    const tensor = tf.engine().makeTensorFromTensorInfo(probe, backend);
    const values = [...tensor.dataSync()];
    tensor.dispose();
    if (values.join() !== "1.5,-2,4096.25") {
      throw new WasmInternalsError(`a tensor written through the wasm heap read back as [${values.join(", ")}]: memoryOffset no longer locates its values`);
    }
  } catch (error) {
    if (error instanceof WasmInternalsError) throw error;
    throw new WasmInternalsError(`the wasm heap probe failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return heap;
}
