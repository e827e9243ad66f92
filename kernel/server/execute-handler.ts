import type { ExecuteOutcome, Executor, UserExpressionResult } from "../execution/executor.js";
import type { ErrorContent, ExecuteRequestContent, UserExpressionContent } from "../protocol/wire-types.js";
import type { CellEventPublisher } from "./cell-event-publisher.js";
import type { CellRegistry } from "./cell-registry.js";
import type { HistoryStore } from "./history-store.js";
import type { MessageSender, RequestEnvelope } from "./message-sender.js";

/** What running a cell needs from the kernel. */
export interface ExecuteContext {
  executor: Executor;
  sender: MessageSender;
  cells: CellRegistry;
  events: CellEventPublisher;
  history: HistoryStore;
  /** Aborted when the kernel closes: a cell whose executor never settles must not hold close(). */
  signal: AbortSignal;
  /** The kernel's execution counter (number of cells stored in history so far). */
  counter: { value: number };
  nextCellId(): string;
}

/** The error content Jupyter front ends expect for an interrupted cell (as ipykernel sends). */
export const INTERRUPTED_ERROR: ErrorContent = {
  ename: "KeyboardInterrupt",
  evalue: "the cell was interrupted",
  traceback: ["KeyboardInterrupt: the cell was interrupted"],
};

/**
 * Runs one execute_request: execute_input, the cell, then execute_result or error on iopub and the
 * execute_reply. The count increments only for cells that are stored in history (not silent).
 * Returns true when the cell failed (error, interrupt or executor restart), so the caller can
 * abort queued cells when `stop_on_error` asks for it.
 */
export async function executeCell(context: ExecuteContext, request: RequestEnvelope, content: ExecuteRequestContent): Promise<boolean> {
  const { sender } = context;
  const stored = content.store_history; // already false for silent requests
  if (stored) context.counter.value += 1;
  const count = context.counter.value;
  const cellId = context.nextCellId();
  context.cells.add(cellId, { header: request.message.header, ids: request.ids });
  context.events.cellStarted(cellId);
  if (!content.silent) sender.publish(request.message.header, "execute_input", { code: content.code, execution_count: count });
  const historyEntry = stored ? context.history.recordInput(count, content.code) : undefined;

  let outcome: ExecuteOutcome;
  try {
    outcome = await untilAborted(
      context.executor.execute({
        cellId,
        code: content.code,
        silent: content.silent,
        storeHistory: stored,
        userExpressions: content.user_expressions,
        allowStdin: content.allow_stdin,
        // Cells not stored in history do not consume a count; they see the next one.
        executionCount: stored ? count : count + 1,
      }),
      context.signal,
    );
  } catch (error) {
    if (context.signal.aborted) throw error;
    const failure = error instanceof Error ? error : new Error(String(error));
    outcome = { status: "error", ename: "ExecutorError", evalue: failure.message, traceback: [failure.stack ?? failure.message] };
  } finally {
    context.events.forgetCell(cellId);
  }
  context.events.cellEnded(cellId, request.message.header, content.silent);

  const fail = (error: ErrorContent): true => {
    sender.publish(request.message.header, "error", error);
    sender.reply(request, "execute_reply", { status: "error", execution_count: count, user_expressions: {}, payload: [], ...error });
    historyEntry?.setOutput(null);
    return true;
  };
  switch (outcome.status) {
    case "ok": {
      if (outcome.result !== undefined && !content.silent) {
        sender.publish(request.message.header, "execute_result", { execution_count: count, data: outcome.result.data, metadata: outcome.result.metadata });
      }
      const plain = outcome.result?.data["text/plain"];
      historyEntry?.setOutput(typeof plain === "string" ? plain : null);
      sender.reply(request, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: toWireExpressions(outcome.userExpressions) });
      return false;
    }
    case "error":
      return fail({ ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback });
    case "interrupted":
      return fail(INTERRUPTED_ERROR);
    case "restarted":
      return fail({
        ename: "ExecutorRestarted",
        evalue: outcome.reason,
        traceback: [`ExecutorRestarted: ${outcome.reason}`, "The execution environment was restarted: values defined by earlier cells are gone."],
      });
    default: {
      const unknown: never = outcome;
      return fail({ ename: "ExecutorError", evalue: `unknown outcome ${JSON.stringify(unknown)}`, traceback: [] });
    }
  }
}

function toWireExpressions(results: Record<string, UserExpressionResult>): Record<string, UserExpressionContent> {
  const wire: Record<string, UserExpressionContent> = {};
  for (const [name, result] of Object.entries(results)) {
    wire[name] = result.status === "ok" ? { status: "ok", data: result.data, metadata: result.metadata } : result;
  }
  return wire;
}

/** Per signal, the rejections of the waits in progress (see {@link untilAborted}). */
const waitsBySignal = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/**
 * Settles with `promise`, or rejects as soon as `signal` aborts. One abort listener per signal,
 * added at its first wait, serves every wait: adding and removing an EventTarget listener for
 * each cell cost more than the rest of this function, on a path every cell takes.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let waits = waitsBySignal.get(signal);
  if (waits === undefined) {
    const created = new Set<(reason: unknown) => void>();
    signal.addEventListener(
      "abort",
      () => {
        for (const reject of created) reject(signal.reason);
        created.clear();
      },
      { once: true },
    );
    waitsBySignal.set(signal, created);
    waits = created;
  }
  const pending = waits;
  return new Promise<T>((resolve, reject) => {
    pending.add(reject);
    promise.then(
      (value) => {
        pending.delete(reject);
        resolve(value);
      },
      (error: unknown) => {
        pending.delete(reject);
        reject(error);
      },
    );
  });
}
