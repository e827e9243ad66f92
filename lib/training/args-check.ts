/**
 * `args` reach the workers as a structured clone. Some values survive that only in form: a
 * tf.Tensor arrives as a plain object without its data (which lives in the tfjs backend), a
 * ringbook Dataset without its arrays (private fields); functions and symbols do not clone at all.
 * They are refused here, on the notebook's side, with the path to the value and what to do.
 */
import { serialize } from "node:v8";
import { RingbookError } from "../errors.js";
import { describeValue, looksLikeTensor } from "../data/sample-arrays.js";
import { isTfDataset } from "./stream-data.js";

/**
 * Throws `ERR_ARGS_NOT_CLONEABLE` naming the first value of `args` that cannot reach the workers,
 * and why. `serialized: false` skips the trial structured clone, for callers that clone `args`
 * right after anyway (and report its failure).
 */
export function checkArgsCloneable(args: unknown, options: { path?: string; serialized?: boolean } = {}): void {
  const path = options.path ?? "args";
  const reason = findUncloneable(args, path, new Set());
  if (reason !== undefined) throw new RingbookError("ERR_ARGS_NOT_CLONEABLE", reason);
  if (options.serialized === false) return;
  try {
    serialize(args);
  } catch (error) {
    throw new RingbookError(
      "ERR_ARGS_NOT_CLONEABLE",
      `${path} cannot be sent to the workers: ${(error as Error).message}. Pass plain data (numbers, strings, arrays, objects, typed arrays, Maps)`,
      { cause: error },
    );
  }
}

function findUncloneable(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (typeof value === "function") {
    return `${path} is a function: functions do not travel in args. Write it inside the model or data function, or pass the data it would compute`;
  }
  if (typeof value === "symbol") return `${path} is a symbol, which cannot be sent to the workers`;
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  if (looksLikeTensor(value)) {
    return (
      `${path} is ${describeValue(value)}: a tensor cannot travel to the workers (a structured clone copies its fields, not its values, which live in the tfjs backend). ` +
      `Pass its values (await x.array(), or x.dataSync() for a typed array) and make the tensor in the function: ({ tf, args }) => tf.tensor(args.x, shape)`
    );
  }
  if (isTfDataset(value)) {
    return `${path} is a tf.data.Dataset, which cannot travel to the workers (it is code, not data): build it in the data function and return it from there`;
  }
  if (typeof (value as { batch?: unknown }).batch === "function" && typeof (value as { size?: unknown }).size === "number") {
    return `${path} is ${describeValue(value)}, a Dataset, which arrives on the workers without its samples (they are private fields): build it in the data function, or pass its arrays`;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) return undefined;
  if (value instanceof Map) {
    for (const [key, item] of value) {
      const found = findUncloneable(item, `${path}.get(${JSON.stringify(key)})`, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const item of value) {
      const found = findUncloneable(item, `${path} (a Set's item)`, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    // Large arrays of numbers are common in args: look only at the items that could be a problem.
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || (typeof item !== "object" && typeof item !== "function" && typeof item !== "symbol")) continue;
      const found = findUncloneable(item, `${path}[${i}]`, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = findUncloneable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}
