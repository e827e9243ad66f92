/**
 * The backends a user may ask for, apart from the selection itself (select-backend), so that the
 * owner and a worker's supervisor can check a preference without loading tfjs.
 */
import { RingbookError } from "../errors.js";

/** A backend to ask for; `auto` tries them fastest first. */
export type BackendPreference = "auto" | "tensorflow-gpu" | "tensorflow" | "wasm-blas" | "wasm" | "cpu";

export const backendPreferences: readonly BackendPreference[] = ["auto", "tensorflow-gpu", "tensorflow", "wasm-blas", "wasm", "cpu"];

/** Parses a backend preference, quoting a bad value. */
export function parseBackendPreference(value: unknown): BackendPreference {
  const preference = backendPreferences.find((candidate) => candidate === value);
  if (preference !== undefined) return preference;
  throw new RingbookError("ERR_BAD_OPTION", `backend must be one of ${backendPreferences.join(", ")}, got ${JSON.stringify(value)}`);
}
