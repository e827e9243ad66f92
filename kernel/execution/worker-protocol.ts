/**
 * Messages between the executor (main thread) and its cell worker thread. Both ends are ours and
 * structured-clone the messages, but each end still narrows what it receives ({@link parseFromWorker},
 * {@link parseToWorker}, and {@link parseCellWorkerConfig} for `workerData`) so that a bug shows as
 * a clear error, not as a wrong cast.
 */
import type { CellEvent, CommTarget, ExecuteOutcome, ExecuteRequest } from "./executor.js";
import { RingbookError } from "../../lib/errors.js";
import { isJsonObject, quote } from "../../lib/json-guards.js";
import { parseCallReply, parseCellEvent, parseExecuteOutcome } from "./cell-message-parser.js";

/** Configuration the cell worker receives as `workerData`. */
export interface CellWorkerConfig {
  /** The notebook's folder: imports resolve from here. */
  cwd: string;
  /** Specifier → file URL (`ringbook`, `ringbook/display`, `tslab`). */
  moduleAliases: Record<string, string>;
  /** JSX settings from tsconfig.json, if any. */
  jsx?: { runtime: "classic" | "automatic"; factory?: string; fragmentFactory?: string; importSource?: string };
  /** tsconfig's `experimentalDecorators`: cells with decorators then go through TypeScript. */
  experimentalDecorators: boolean;
  emitDecoratorMetadata: boolean;
}

/**
 * Checks the cell worker's `workerData`: the executor built it, but it crosses a thread, so it is
 * parsed like any input rather than cast.
 */
export function parseCellWorkerConfig(value: unknown): CellWorkerConfig {
  const fail = (problem: string): never => {
    throw new RingbookError("WORKER_CONFIG", `cell worker configuration: ${problem}`);
  };
  if (!isJsonObject(value)) return fail(`expected an object, got ${quote(value)}`);
  const { cwd, moduleAliases, jsx, experimentalDecorators, emitDecoratorMetadata } = value;
  if (typeof cwd !== "string" || cwd === "") return fail(`cwd must be a folder, got ${quote(cwd)}`);
  if (!isJsonObject(moduleAliases)) return fail(`moduleAliases must be an object, got ${quote(moduleAliases)}`);
  const aliases: Record<string, string> = {};
  for (const [specifier, url] of Object.entries(moduleAliases)) {
    if (typeof url !== "string") return fail(`moduleAliases[${JSON.stringify(specifier)}] must be a URL, got ${quote(url)}`);
    aliases[specifier] = url;
  }
  if (typeof experimentalDecorators !== "boolean" || typeof emitDecoratorMetadata !== "boolean") {
    return fail(`experimentalDecorators and emitDecoratorMetadata must be booleans, got ${quote(experimentalDecorators)} and ${quote(emitDecoratorMetadata)}`);
  }
  const config: CellWorkerConfig = { cwd, moduleAliases: aliases, experimentalDecorators, emitDecoratorMetadata };
  if (jsx !== undefined) config.jsx = parseJsx(jsx, fail);
  return config;
}

function parseJsx(value: unknown, fail: (problem: string) => never): NonNullable<CellWorkerConfig["jsx"]> {
  if (!isJsonObject(value)) return fail(`jsx must be an object, got ${quote(value)}`);
  const { runtime, factory, fragmentFactory, importSource } = value;
  if (runtime !== "classic" && runtime !== "automatic") return fail(`jsx.runtime must be "classic" or "automatic", got ${quote(runtime)}`);
  const jsx: NonNullable<CellWorkerConfig["jsx"]> = { runtime };
  const optionalText = (name: string, field: unknown): string | undefined => {
    if (field === undefined || typeof field === "string") return field;
    return fail(`jsx.${name} must be a string, got ${quote(field)}`);
  };
  const parsedFactory = optionalText("factory", factory);
  const parsedFragmentFactory = optionalText("fragmentFactory", fragmentFactory);
  const parsedImportSource = optionalText("importSource", importSource);
  if (parsedFactory !== undefined) jsx.factory = parsedFactory;
  if (parsedFragmentFactory !== undefined) jsx.fragmentFactory = parsedFragmentFactory;
  if (parsedImportSource !== undefined) jsx.importSource = parsedImportSource;
  return jsx;
}

/** A request that expects a reply. */
export type WorkerCall =
  | { kind: "commOpen"; commId: string; targetName: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { kind: "commMsg"; commId: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { kind: "commClose"; commId: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { kind: "commInfo"; targetName?: string };

export type ToWorker =
  | { type: "execute"; request: ExecuteRequest }
  | { type: "input"; requestId: string; value: string }
  | { type: "call"; callId: number; call: WorkerCall }
  /** Run the shutdown hooks (close what cells opened outside the thread), then answer `shutdownDone`. */
  | { type: "shutdown" };

export type FromWorker =
  | { type: "ready" }
  | { type: "event"; cellId: string; event: CellEvent }
  | { type: "outcome"; cellId: string; outcome: ExecuteOutcome }
  | { type: "reply"; callId: number; ok: true; value: boolean | CommTarget[] | null }
  | { type: "reply"; callId: number; ok: false; message: string }
  | { type: "interruptAck"; seq: number }
  | { type: "shutdownDone"; failures: string[] };

/** The global function the interrupt probe calls inside the worker (through the inspector). */
export const interruptProbeSymbolKey = "ringbook.interruptProbe";

/** Narrows a message to the cell worker (the executor's, but it crosses a thread: parsed, not cast). */
export function parseToWorker(message: unknown): ToWorker {
  const fail = (): never => {
    throw new RingbookError("WORKER_MESSAGE", `the executor sent the cell worker an unexpected message: ${quote(message, 200)}`);
  };
  if (!isJsonObject(message)) return fail();
  switch (message["type"]) {
    case "execute":
      return { type: "execute", request: parseExecuteRequest(message["request"]) ?? fail() };
    case "input": {
      const { requestId, value } = message;
      if (typeof requestId !== "string" || typeof value !== "string") return fail();
      return { type: "input", requestId, value };
    }
    case "call": {
      const { callId } = message;
      if (typeof callId !== "number") return fail();
      return { type: "call", callId, call: parseWorkerCall(message["call"]) ?? fail() };
    }
    case "shutdown":
      return { type: "shutdown" };
    default:
      return fail();
  }
}

function parseExecuteRequest(value: unknown): ExecuteRequest | undefined {
  if (!isJsonObject(value)) return undefined;
  const { cellId, code, silent, storeHistory, userExpressions, allowStdin, executionCount } = value;
  if (typeof cellId !== "string" || typeof code !== "string" || typeof executionCount !== "number") return undefined;
  if (typeof silent !== "boolean" || typeof storeHistory !== "boolean" || typeof allowStdin !== "boolean") return undefined;
  if (!isJsonObject(userExpressions)) return undefined;
  const expressions: Record<string, string> = {};
  for (const [name, expression] of Object.entries(userExpressions)) {
    if (typeof expression !== "string") return undefined;
    expressions[name] = expression;
  }
  return { cellId, code, silent, storeHistory, userExpressions: expressions, allowStdin, executionCount };
}

function parseWorkerCall(value: unknown): WorkerCall | undefined {
  if (!isJsonObject(value)) return undefined;
  const { kind, commId, targetName, data, metadata } = value;
  if (kind === "commInfo") {
    if (targetName === undefined) return { kind };
    return typeof targetName === "string" ? { kind, targetName } : undefined;
  }
  if (typeof commId !== "string" || !isJsonObject(data) || !isJsonObject(metadata)) return undefined;
  switch (kind) {
    case "commOpen":
      return typeof targetName === "string" ? { kind, commId, targetName, data, metadata } : undefined;
    case "commMsg":
    case "commClose":
      return { kind, commId, data, metadata };
    default:
      return undefined;
  }
}

/** Narrows a message from the cell worker. */
export function parseFromWorker(message: unknown): FromWorker {
  if (typeof message !== "object" || message === null) throw new RingbookError("WORKER_MESSAGE", `cell worker sent a non-object message: ${String(message)}`);
  if (!isJsonObject(message)) throw new RingbookError("WORKER_MESSAGE", `cell worker sent an unexpected message: ${quote(message, 200)}`);
  const record = message;
  switch (record["type"]) {
    case "ready":
      return { type: "ready" };
    case "event": {
      const { cellId } = record;
      const event = parseCellEvent(record["event"]);
      if (typeof cellId === "string" && event !== undefined) return { type: "event", cellId, event };
      break;
    }
    case "outcome": {
      const { cellId } = record;
      const outcome = parseExecuteOutcome(record["outcome"]);
      if (typeof cellId === "string" && outcome !== undefined) return { type: "outcome", cellId, outcome };
      break;
    }
    case "reply": {
      const { callId } = record;
      const reply = parseCallReply(record);
      if (typeof callId === "number" && reply !== undefined) return { type: "reply", callId, ...reply };
      break;
    }
    case "interruptAck":
      if (typeof record["seq"] === "number") return { type: "interruptAck", seq: record["seq"] };
      break;
    case "shutdownDone": {
      const failures = record["failures"];
      if (Array.isArray(failures) && failures.every((failure) => typeof failure === "string")) return { type: "shutdownDone", failures };
      break;
    }
    default:
      break;
  }
  throw new RingbookError("WORKER_MESSAGE", `cell worker sent an unexpected message: ${JSON.stringify(message).slice(0, 200)}`);
}
