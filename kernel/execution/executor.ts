/**
 * The seam between the kernel server (wire protocol, sockets, message order) and the executor
 * (TypeScript cells, display, interrupt, language service). The server owns Jupyter messages and
 * parent headers; the executor knows cells only by the `cellId` the server gives it, and every event
 * it emits names the cell whose code (or callbacks, or promises) produced it.
 */
import type { CompleteResult, InspectResult } from "../language/protocol.js";

/** A MIME bundle: MIME type → data. JSON types carry objects, the rest strings (base64 for images). */
export type MimeBundle = Record<string, unknown>;

// Completion and inspection are answered by the language service, which owns their types.
export type { CompleteResult, InspectResult } from "../language/protocol.js";

/** Output and requests the executor emits while, or after, a cell runs. */
export type CellEvent =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | {
      kind: "display";
      data: MimeBundle;
      metadata: Record<string, unknown>;
      /** Present when the display has a handle; `update: true` means update_display_data. */
      displayId?: string;
      update: boolean;
    }
  | { kind: "clearOutput"; wait: boolean }
  /** The cell awaits `input(prompt)`; answer with {@link Executor.provideInput}. */
  | { kind: "inputRequest"; requestId: string; prompt: string; password: boolean }
  /** Kernel-side comm traffic towards the front end. */
  | { kind: "commOpen"; commId: string; targetName: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { kind: "commMsg"; commId: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { kind: "commClose"; commId: string; data: Record<string, unknown>; metadata: Record<string, unknown> }
  /** An error that surfaced after its cell finished (unhandled rejection, throwing timer). */
  | { kind: "lateError"; ename: string; evalue: string; traceback: string[] };

export interface ExecuteRequest {
  /** Opaque id chosen by the server; every event for this cell carries it. */
  cellId: string;
  code: string;
  silent: boolean;
  storeHistory: boolean;
  /** Name → expression, evaluated after the cell; results are MIME bundles or errors. */
  userExpressions: Record<string, string>;
  allowStdin: boolean;
  /** 1-based execution count the server assigned (for tracebacks and `In[n]` names). */
  executionCount: number;
}

export type UserExpressionResult =
  | { status: "ok"; data: MimeBundle; metadata: Record<string, unknown> }
  | { status: "error"; ename: string; evalue: string; traceback: string[] };

export type ExecuteOutcome =
  | {
      status: "ok";
      /** The value of the cell's last expression as a MIME bundle (always with text/plain), if any. */
      result?: { data: MimeBundle; metadata: Record<string, unknown> };
      userExpressions: Record<string, UserExpressionResult>;
    }
  | { status: "error"; ename: string; evalue: string; traceback: string[] }
  /** Stopped by {@link Executor.interrupt}; state of earlier cells is intact. */
  | { status: "interrupted" }
  /** The execution environment died (e.g. `process.exit()` in a cell); a fresh one was started. */
  | { status: "restarted"; reason: string };

export type IsCompleteResult =
  | { status: "complete" }
  | { status: "incomplete"; indent: string }
  | { status: "invalid" }
  | { status: "unknown" };

/**
 * The `cellId` of events that answer a front end's comm message rather than come from a cell: the
 * server registers the origin of every comm_open and comm_msg under it before handing the request
 * to the executor, so an answer goes out with that request as its parent.
 * @example
 * listener(commOrigin(commId), { kind: "commMsg", commId, data: reply, metadata: {} });
 */
export function commOrigin(commId: string): string {
  return `comm:${commId}`;
}

export interface CommTarget {
  commId: string;
  targetName: string;
}

/**
 * Runs cells. Calls to {@link execute} are made strictly one at a time by the server; every other
 * method may be called while a cell runs (from the control channel or another shell message).
 */
export interface Executor {
  /** Registers the single event listener (the server). */
  onEvent(listener: (cellId: string, event: CellEvent) => void): void;
  execute(request: ExecuteRequest): Promise<ExecuteOutcome>;
  /** Stops the running cell, if any, within 1 s; its `execute` promise settles as `interrupted`. */
  interrupt(): Promise<void>;
  complete(code: string, cursorPos: number): Promise<CompleteResult>;
  inspect(code: string, cursorPos: number, detailLevel: 0 | 1): Promise<InspectResult>;
  isComplete(code: string): Promise<IsCompleteResult>;
  /** Answer to an `inputRequest` event. */
  provideInput(requestId: string, value: string): void;
  /** Front-end comm traffic; unknown targets make `commOpen` return false (server sends comm_close). */
  commOpen(commId: string, targetName: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<boolean>;
  commMsg(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void>;
  commClose(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void>;
  commInfo(targetName?: string): Promise<CommTarget[]>;
  /** Drops all state (restart) or ends everything (shutdown). Idempotent. */
  close(): Promise<void>;
}
