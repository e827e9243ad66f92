import { RingbookError } from "../lib/errors.js";

/** The driver's JSON did not have the expected shape. */
export class DriverOutputError extends RingbookError {
  constructor(message: string) {
    super("BENCH_DRIVER_OUTPUT", message);
  }
}

/** Latency statistics over many samples, in milliseconds (nearest-rank p99). */
export interface LatencyStats {
  readonly n: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/** Startup statistics over fresh starts, in milliseconds. */
export interface StartStats {
  readonly n: number;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

/** Memory of a kernel's process tree, summed over /proc (shared pages counted once per process). */
export interface TreeMemory {
  readonly pids: readonly number[];
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

/** Everything measured for one kernel by bench/kernel-driver.py. */
export interface KernelMeasurement {
  readonly resourceDir: string;
  readonly argv: readonly string[];
  readonly implementation: string;
  readonly implementationVersion: string;
  readonly start: StartStats;
  readonly trivialCell: LatencyStats;
  readonly functionCell: LatencyStats;
  /**
   * Other new typed functions, timed after the memory figures: on a kernel that serves the
   * `ringbook.diagnostics` comm ({@link checkedWhileEdited}) each was checked there first (as
   * ringbook's JupyterLab extension checks a cell while it is edited); null when no kernel of the
   * run serves it.
   */
  readonly checkedFunctionCell: LatencyStats | null;
  readonly checkedWhileEdited: boolean;
  readonly firstTrivialMs: number | null;
  readonly memoryAfterStart: TreeMemory;
  readonly memoryAfterCells: TreeMemory;
  /** Memory halfway through the cells (after `cells` cells in all for an even count). */
  readonly memoryAtHalf: TreeMemory & { readonly cells: number };
  readonly cellsRun: number;
  readonly lostReplies: number;
  readonly lostIdle: number;
  readonly lateMessages: number;
  readonly errorReplies: number;
  readonly errors: readonly string[];
  /** The first few cells whose reply or idle status never arrived. */
  readonly lostCells: readonly string[];
  /** How the driver confirmed its IOPub subscription before timing cells. */
  readonly iopubConfirmedBy: string;
  /** Fresh starts that failed (not retried; the start statistics cover only the others). */
  readonly startFailures: readonly string[];
}

/** One kernel in the driver's answer: measured, or failed (died, never answered) with the reason. */
export type DriverKernelOutcome =
  | { readonly state: "measured"; readonly result: KernelMeasurement }
  | { readonly state: "failed"; readonly reason: string; readonly startFailures: readonly string[] };

/** The driver's whole answer. */
export interface DriverReport {
  readonly starts: number;
  readonly cells: number;
  readonly kernels: ReadonlyMap<string, DriverKernelOutcome>;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(object: Json, key: string, where: string): unknown {
  if (!(key in object)) throw new DriverOutputError(`${where}.${key} is missing`);
  return object[key];
}

function record(object: Json, key: string, where: string): Json {
  const value = field(object, key, where);
  if (!isRecord(value)) throw new DriverOutputError(`${where}.${key} is not an object: ${JSON.stringify(value)}`);
  return value;
}

function num(object: Json, key: string, where: string): number {
  const value = field(object, key, where);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new DriverOutputError(`${where}.${key} is not a number: ${JSON.stringify(value)}`);
  }
  return value;
}

function numOrNull(object: Json, key: string, where: string): number | null {
  return field(object, key, where) === null ? null : num(object, key, where);
}

function flag(object: Json, key: string, where: string): boolean {
  const value = field(object, key, where);
  if (typeof value !== "boolean") throw new DriverOutputError(`${where}.${key} is not a boolean: ${JSON.stringify(value)}`);
  return value;
}

function text(object: Json, key: string, where: string): string {
  const value = field(object, key, where);
  if (typeof value !== "string") throw new DriverOutputError(`${where}.${key} is not a string: ${JSON.stringify(value)}`);
  return value;
}

function strings(object: Json, key: string, where: string): string[] {
  const value = field(object, key, where);
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === "string")) {
    throw new DriverOutputError(`${where}.${key} is not a list of strings: ${JSON.stringify(value)}`);
  }
  return value;
}

function latency(object: Json, key: string, where: string): LatencyStats {
  const stats = record(object, key, where);
  const at = `${where}.${key}`;
  return { n: num(stats, "n", at), p50Ms: numOrNull(stats, "p50Ms", at), p99Ms: numOrNull(stats, "p99Ms", at), maxMs: numOrNull(stats, "maxMs", at) };
}

function memory(object: Json, key: string, where: string): TreeMemory {
  const mem = record(object, key, where);
  const at = `${where}.${key}`;
  const pids = field(mem, "pids", at);
  if (!Array.isArray(pids) || !pids.every((pid): pid is number => Number.isInteger(pid))) {
    throw new DriverOutputError(`${at}.pids is not a list of PIDs: ${JSON.stringify(pids)}`);
  }
  return { pids, rssMiB: num(mem, "rssMiB", at), peakRssMiB: num(mem, "peakRssMiB", at) };
}

function outcome(value: unknown, where: string): DriverKernelOutcome {
  if (!isRecord(value)) throw new DriverOutputError(`${where} is not an object`);
  if ("failure" in value) {
    return { state: "failed", reason: text(value, "failure", where), startFailures: strings(value, "startFailures", where) };
  }
  return { state: "measured", result: measurement(value, where) };
}

function measurement(value: Json, where: string): KernelMeasurement {
  const spec = record(value, "spec", where);
  const info = record(value, "kernelInfo", where);
  const start = record(value, "start", where);
  const implementation = info["implementation"];
  const version = info["implementationVersion"];
  return {
    resourceDir: text(spec, "resourceDir", `${where}.spec`),
    argv: strings(spec, "argv", `${where}.spec`),
    implementation: typeof implementation === "string" ? implementation : "?",
    implementationVersion: typeof version === "string" ? version : "?",
    start: { n: num(start, "n", `${where}.start`), p50Ms: numOrNull(start, "p50Ms", `${where}.start`), maxMs: numOrNull(start, "maxMs", `${where}.start`) },
    trivialCell: latency(value, "trivialCell", where),
    functionCell: latency(value, "functionCell", where),
    checkedFunctionCell: field(value, "checkedFunctionCell", where) === null ? null : latency(value, "checkedFunctionCell", where),
    checkedWhileEdited: flag(value, "checkedWhileEdited", where),
    firstTrivialMs: numOrNull(value, "firstTrivialMs", where),
    memoryAfterStart: memory(value, "memoryAfterStart", where),
    memoryAfterCells: memory(value, "memoryAfterCells", where),
    memoryAtHalf: { ...memory(value, "memoryAtHalf", where), cells: num(record(value, "memoryAtHalf", where), "cells", `${where}.memoryAtHalf`) },
    cellsRun: num(value, "cellsRun", where),
    lostReplies: num(value, "lostReplies", where),
    lostIdle: num(value, "lostIdle", where),
    lateMessages: num(value, "lateMessages", where),
    errorReplies: num(value, "errorReplies", where),
    errors: strings(value, "errors", where),
    lostCells: strings(value, "lostCells", where),
    iopubConfirmedBy: text(value, "iopubConfirmedBy", where),
    startFailures: strings(value, "startFailures", where),
  };
}

/** Parses the driver's stdout (one JSON document) into a typed {@link DriverReport}. */
export function parseDriverReport(stdout: string): DriverReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    throw new DriverOutputError(`driver printed no JSON (${String(error)}): ${JSON.stringify(stdout.slice(0, 300))}`);
  }
  if (!isRecord(parsed)) throw new DriverOutputError("driver output is not a JSON object");
  const schema = text(parsed, "schema", "driver");
  if (schema !== "ringbook-kernel-bench/1") throw new DriverOutputError(`unexpected driver schema ${JSON.stringify(schema)}`);
  const kernels = new Map<string, DriverKernelOutcome>();
  for (const [name, value] of Object.entries(record(parsed, "kernels", "driver"))) {
    kernels.set(name, outcome(value, `kernels.${name}`));
  }
  return { starts: num(parsed, "starts", "driver"), cells: num(parsed, "cells", "driver"), kernels };
}
