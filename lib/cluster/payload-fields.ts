/**
 * Field readers for task payloads (structured-clone data from a worker, read as `unknown`): each
 * gives a typed value or throws {@link BadPayloadError} naming the path of the field and quoting
 * what was there.
 */
import { RingbookError } from "../errors.js";
import { isStep, type Step } from "../ids.js";
import { isJsonObject, quote, type JsonObject } from "../json-guards.js";

/** A task payload that does not have the shape its task kind promises. */
export class BadPayloadError extends RingbookError {
  constructor(path: string, expected: string, value: unknown) {
    super("ERR_BAD_PAYLOAD", `${path} must be ${expected}, got ${quote(value)}`);
  }
}

/** `value` as an object, or a {@link BadPayloadError} naming `path`. */
export function objectAt(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw new BadPayloadError(path, "an object", value);
  return value;
}

/** `value` as an array, or a {@link BadPayloadError} naming `path`. */
export function arrayAt(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new BadPayloadError(path, "an array", value);
  return value;
}

/** A number field (NaN and infinities allowed: a loss may be NaN). */
export function numberField(object: JsonObject, key: string, path: string): number {
  const value = object[key];
  if (typeof value !== "number") throw new BadPayloadError(`${path}.${key}`, "a number", value);
  return value;
}

/** A safe integer field, at least `min`. */
export function integerField(object: JsonObject, key: string, path: string, min = 0): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) throw new BadPayloadError(`${path}.${key}`, `an integer >= ${min}`, value);
  return value;
}

/** A global step number (an integer >= 0) as a {@link Step}. */
export function stepField(object: JsonObject, key: string, path: string): Step {
  const value = object[key];
  if (!isStep(value)) throw new BadPayloadError(`${path}.${key}`, "an integer >= 0", value);
  return value;
}

/** A string field. */
export function stringField(object: JsonObject, key: string, path: string): string {
  const value = object[key];
  if (typeof value !== "string") throw new BadPayloadError(`${path}.${key}`, "a string", value);
  return value;
}

/** A boolean field. */
export function booleanField(object: JsonObject, key: string, path: string): boolean {
  const value = object[key];
  if (typeof value !== "boolean") throw new BadPayloadError(`${path}.${key}`, "a boolean", value);
  return value;
}

/** An optional number field: `{}` when absent, `{ [key]: value }` when present (for spreading into a record). */
export function optionalNumberField<K extends string>(object: JsonObject, key: K, path: string): { [P in K]?: number } {
  if (object[key] === undefined) return {};
  const entry: { [P in K]?: number } = {};
  entry[key] = numberField(object, key, path);
  return entry;
}

/**
 * An optional field read by `read` (one of the readers above): `{}` when absent, `{ [key]: value }`
 * when present, for spreading into a record whose optional fields must stay absent.
 */
export function optionalField<K extends string, T>(object: JsonObject, key: K, path: string, read: (object: JsonObject, key: K, path: string) => T): { [P in K]?: T } {
  if (object[key] === undefined) return {};
  const entry: { [P in K]?: T } = {};
  entry[key] = read(object, key, path);
  return entry;
}

/** One of `choices`, or a {@link BadPayloadError} naming `path`. */
export function oneOf<const T extends string>(value: unknown, choices: readonly T[], path: string): T {
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw new BadPayloadError(path, `one of ${choices.join(", ")}`, value);
  return found;
}

/** Refuses a key outside `keys` (a payload from another version, or a field dropped by mistake). */
export function onlyKeys(object: JsonObject, keys: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!keys.includes(key)) throw new BadPayloadError(`${path}.${key}`, `absent (${path} has only ${keys.join(", ")})`, object[key]);
  }
}

/** An integer field that may be null. */
export function nullableIntegerField(object: JsonObject, key: string, path: string): number | null {
  return object[key] === null ? null : integerField(object, key, path);
}

/** An object whose every value is a number (logs such as `{ loss, accuracy }`). */
export function numberRecordAt(value: unknown, path: string): Record<string, number> {
  const object = objectAt(value, path);
  // fromEntries defines own properties: a key such as "__proto__" stays a key.
  return Object.fromEntries(Object.keys(object).map((key) => [key, numberField(object, key, path)]));
}
