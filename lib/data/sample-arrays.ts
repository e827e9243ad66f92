/**
 * Samples given as values (tensors, typed arrays, nested arrays), read into flat host arrays that
 * training gathers batches from by index. Used on the notebook's side (to send `data: { xs, ys }`
 * to workers) and on the workers (a data function's `{ xs, ys }`, a {@link TensorDataset}).
 */
import { RingbookError } from "../errors.js";

/** The element types a sample array holds, as tfjs names them. */
export type SampleDtype = "float32" | "int32" | "bool";

/** Typed arrays accepted as samples (a flat array of values, samples one after another). */
export type SampleTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | Uint8ClampedArray;

/** Nested JavaScript arrays of numbers or booleans, samples along the outer array. */
export type NestedArray = ReadonlyArray<number | boolean | NestedArray>;

/**
 * Flat values with their shape, as `tf.tensor(values, shape, dtype)` takes them: the samples
 * along the first axis. `dtype` defaults to float32 for floating-point and number arrays, int32
 * for integer typed arrays. (An object with exactly the keys `values`, `shape` and optionally
 * `dtype` is read as this, not as a map of inputs of those names.)
 */
export interface ShapedValues {
  values: SampleTypedArray | readonly number[];
  shape: readonly number[];
  dtype?: SampleDtype;
}

/** The tensor-like fields read from a tf.Tensor (of any copy of tfjs). */
export interface TensorLike {
  shape: number[];
  dtype: string;
  dataSync(): ArrayLike<number> | ArrayLike<string>;
}

/**
 * One input or target array: a tf.Tensor, a typed array (flat: its sample shape comes from the
 * model, or the sample count of the other arrays), nested arrays, or {@link ShapedValues}.
 */
export type SampleLeaf = TensorLike | SampleTypedArray | NestedArray | ShapedValues;

/**
 * The inputs (or targets) of a data set: one {@link SampleLeaf}, an array of them (several inputs
 * or outputs, in the model's order: tensors, typed arrays or shaped values) or a map from input or
 * output names to them.
 */
export type SampleTree = SampleLeaf | readonly SampleLeaf[] | { readonly [name: string]: SampleLeaf };

/** Values as training stores them: Float32Array (float32), Int32Array (int32) or Uint8Array (bool). */
export type HostValues = Float32Array | Int32Array | Uint8Array;

/** One array of samples, read into host memory. */
export interface HostLeaf {
  values: HostValues;
  dtype: SampleDtype;
  /** The whole shape, samples first; `undefined` for a flat typed array (its sample shape is decided later). */
  shape: number[] | undefined;
}

/** A {@link SampleTree} read into host memory, with its structure. */
export type HostTree =
  | { kind: "single"; leaf: HostLeaf }
  | { kind: "list"; leaves: HostLeaf[] }
  | { kind: "map"; leaves: Record<string, HostLeaf> };

/** The leaves of a host tree with their names (`xs`, `xs[1]`, `xs.price`) for messages. */
export function hostLeaves(tree: HostTree, path: string): Array<{ path: string; key: number | string; leaf: HostLeaf }> {
  switch (tree.kind) {
    case "single":
      return [{ path, key: 0, leaf: tree.leaf }];
    case "list":
      return tree.leaves.map((leaf, i) => ({ path: `${path}[${i}]`, key: i, leaf }));
    case "map":
      return Object.entries(tree.leaves).map(([name, leaf]) => ({ path: `${path}.${name}`, key: name, leaf }));
    default: {
      const impossible: never = tree;
      throw new RingbookError("ERR_BAD_DATA", `unknown sample tree ${JSON.stringify(impossible)}`);
    }
  }
}

/** Rebuilds a host tree of the same structure with each leaf mapped. */
export function mapHostTree(tree: HostTree, map: (leaf: HostLeaf, key: number | string) => HostLeaf): HostTree {
  switch (tree.kind) {
    case "single":
      return { kind: "single", leaf: map(tree.leaf, 0) };
    case "list":
      return { kind: "list", leaves: tree.leaves.map((leaf, i) => map(leaf, i)) };
    case "map":
      return { kind: "map", leaves: Object.fromEntries(Object.entries(tree.leaves).map(([name, leaf]) => [name, map(leaf, name)])) };
    default: {
      const impossible: never = tree;
      throw new RingbookError("ERR_BAD_DATA", `unknown sample tree ${JSON.stringify(impossible)}`);
    }
  }
}

/** True for a tf.Tensor of any copy of tfjs (the notebook's may differ from ringbook's). */
export function looksLikeTensor(value: unknown): value is TensorLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { dataSync?: unknown }).dataSync === "function" &&
    Array.isArray((value as { shape?: unknown }).shape) &&
    typeof (value as { dtype?: unknown }).dtype === "string"
  );
}

/** True for the typed arrays accepted as samples. */
export function isSampleTypedArray(value: unknown): value is SampleTypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

function isShapedValues(value: unknown): value is ShapedValues {
  if (typeof value !== "object" || value === null || Array.isArray(value) || isSampleTypedArray(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.includes("values") &&
    keys.includes("shape") &&
    keys.every((key) => key === "values" || key === "shape" || key === "dtype") &&
    Array.isArray((value as { shape: unknown }).shape)
  );
}

/** An array is a list of inputs (or outputs) when its items are arrays of their own kind, not nested numbers. */
function isLeafList(value: readonly unknown[]): boolean {
  const first = value[0];
  return looksLikeTensor(first) || isSampleTypedArray(first) || isShapedValues(first);
}

/** How {@link readSampleTree} reads: a data set's arrays (samples first) or one sample of a stream. */
export interface ReadOptions {
  /**
   * The value is one sample (an element of a tf.data.Dataset): numbers, booleans and scalar
   * tensors are allowed, a typed array is one sample of that many values, and shapes have no
   * sample axis. @default false
   */
  oneSample?: boolean;
}

/**
 * Reads `value` (the `xs` or `ys` of a data set) into host arrays, checking every array: the
 * message names the bad part by its path (`xs[1]`, `ys.price`) and says what it is.
 */
export function readSampleTree(value: unknown, path: string, options: ReadOptions = {}): HostTree {
  if (Array.isArray(value) && value.length > 0 && isLeafList(value)) {
    return { kind: "list", leaves: value.map((leaf, i) => readSampleLeaf(leaf, `${path}[${i}]`, options)) };
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value) && !looksLikeTensor(value) && !isSampleTypedArray(value) && !isShapedValues(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) throw badData(`${path} is an empty object; give an array (tensor, typed array, nested arrays) or a map of input or output names to arrays`);
    return { kind: "map", leaves: Object.fromEntries(entries.map(([name, leaf]) => [name, readSampleLeaf(leaf, `${path}.${name}`, options)])) };
  }
  return { kind: "single", leaf: readSampleLeaf(value, path, options) };
}

/** Reads one array of samples (see {@link SampleLeaf}). */
export function readSampleLeaf(value: unknown, path: string, options: ReadOptions = {}): HostLeaf {
  const oneSample = options.oneSample === true;
  if (looksLikeTensor(value)) {
    const { dtype, shape } = value;
    if (dtype !== "float32" && dtype !== "int32" && dtype !== "bool") throw badData(`${path} is a ${dtype} tensor; use float32, int32 or bool`);
    if (shape.length === 0 && !oneSample) throw badData(`${path} is a scalar tensor; samples go along the first axis, e.g. shape [n] or [n, features]`);
    return { values: toHostValues(value.dataSync() as ArrayLike<number>, dtype), dtype, shape: [...shape] };
  }
  if (oneSample && (typeof value === "number" || typeof value === "boolean")) {
    return typeof value === "number" ? { values: Float32Array.of(value), dtype: "float32", shape: [] } : { values: Uint8Array.of(value ? 1 : 0), dtype: "bool", shape: [] };
  }
  if (isSampleTypedArray(value)) {
    if (value.length === 0) throw badData(`${path} is an empty ${value.constructor.name}`);
    const dtype = value instanceof Float32Array || value instanceof Float64Array ? "float32" : "int32";
    return { values: toHostValues(value, dtype), dtype, shape: oneSample ? [value.length] : undefined };
  }
  if (isShapedValues(value)) {
    const shape = [...value.shape];
    if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw badData(`${path}.shape must be a list of sizes, samples first, got ${JSON.stringify(value.shape)}`);
    const length = shape.reduce((a, b) => a * b, 1);
    const values = value.values;
    if (!isSampleTypedArray(values) && !Array.isArray(values)) throw badData(`${path}.values must be a typed array or an array of numbers, got ${describeValue(values)}`);
    if (values.length !== length) throw badData(`${path} has ${values.length} values but shape [${shape.join(", ")}] holds ${length}`);
    const dtype = value.dtype ?? (values instanceof Float32Array || values instanceof Float64Array || Array.isArray(values) ? "float32" : "int32");
    if (dtype !== "float32" && dtype !== "int32" && dtype !== "bool") throw badData(`${path}.dtype must be float32, int32 or bool, got ${JSON.stringify(dtype)}`);
    if (Array.isArray(values)) {
      const bad = values.findIndex((v) => typeof v !== "number");
      if (bad >= 0) throw badData(`${path}.values[${bad}] is ${describeValue(values[bad])}; expected a number`);
    }
    return { values: toHostValues(values, dtype), dtype, shape };
  }
  if (Array.isArray(value)) return readNestedArray(value, path);
  throw badData(`${path} is ${describeValue(value)}; expected a tf.Tensor, a typed array, nested arrays of numbers or booleans, or { values, shape }`);
}

function readNestedArray(value: readonly unknown[], path: string): HostLeaf {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) {
    if (level.length === 0) throw badData(`${path}${"[0]".repeat(shape.length)} is an empty array`);
    shape.push(level.length);
  }
  const length = shape.reduce((a, b) => a * b, 1);
  let first: unknown = value;
  while (Array.isArray(first)) first = first[0];
  const dtype: SampleDtype = typeof first === "boolean" ? "bool" : "float32";
  const values = dtype === "bool" ? new Uint8Array(length) : new Float32Array(length);
  let written = 0;
  const walk = (node: unknown, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (dtype === "bool" ? typeof node !== "boolean" : typeof node !== "number") {
        throw badData(`${where} is ${describeValue(node)}; expected ${dtype === "bool" ? "a boolean (as the first value is)" : "a number"}`);
      }
      values[written++] = Number(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw badData(
        `${where} is ${describeValue(node)} where ${path}${"[0]".repeat(depth)} has ${shape[depth]} items: nested arrays must be rectangular (shape [${shape.join(", ")}])`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${where}[${i}]`);
  };
  walk(value, 0, path);
  return { values, dtype, shape };
}

function toHostValues(values: ArrayLike<number>, dtype: SampleDtype): HostValues {
  switch (dtype) {
    case "float32":
      return values instanceof Float32Array ? values : Float32Array.from(values);
    case "int32":
      return values instanceof Int32Array ? values : Int32Array.from(values);
    case "bool":
      return values instanceof Uint8Array ? values : Uint8Array.from(values, (v) => (v ? 1 : 0));
    default: {
      const impossible: never = dtype;
      throw badData(`unknown dtype ${String(impossible)}`);
    }
  }
}

/**
 * A short description of a value for messages: what it is and, where short, its content
 * (`a number (42)`, `an object with keys x, y`, `a tf.Tensor float32 [10, 4]`).
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (looksLikeTensor(value)) return `a tf.Tensor ${value.dtype} [${value.shape.join(", ")}]`;
  if (isSampleTypedArray(value)) return `a ${value.constructor.name} of ${value.length} values`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? "" : "s"}`;
  switch (typeof value) {
    case "number":
    case "boolean":
    case "bigint":
      return `a ${typeof value} (${String(value)})`;
    case "string":
      return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)})`;
    case "function":
      return "a function";
    case "symbol":
      return `a symbol (${String(value)})`;
    default: {
      if (typeof (value as { then?: unknown }).then === "function") return "a Promise";
      const constructorName = (value as object).constructor?.name;
      const keys = Object.keys(value as object);
      const kind = constructorName !== undefined && constructorName !== "Object" ? `a ${constructorName}` : "an object";
      return keys.length === 0 ? `${kind} with no keys` : `${kind} with keys ${keys.slice(0, 8).join(", ")}${keys.length > 8 ? ", ..." : ""}`;
    }
  }
}

function badData(message: string): RingbookError {
  return new RingbookError("ERR_BAD_DATA", message);
}

/**
 * A host tree back in the public form (flat typed arrays, `{ values, shape, dtype }` for shaped
 * arrays), without copying: what travels to the workers, and what a {@link TensorDataset} reads again
 * at no cost.
 */
export function toSampleTree(tree: HostTree): SampleTree {
  const leaf = (host: HostLeaf): SampleLeaf => (host.shape === undefined ? host.values : { values: host.values, shape: host.shape, dtype: host.dtype });
  switch (tree.kind) {
    case "single":
      return leaf(tree.leaf);
    case "list":
      return tree.leaves.map(leaf);
    case "map":
      return Object.fromEntries(Object.entries(tree.leaves).map(([name, host]) => [name, leaf(host)]));
    default: {
      const impossible: never = tree;
      throw badData(`unknown sample tree ${JSON.stringify(impossible)}`);
    }
  }
}
