/**
 * The main thread's inspector session into one worker thread, used to interrupt it: inspector
 * messages are handled by the worker's V8 even while it busy-loops (as interrupts), so
 * `Runtime.evaluate` reaches a stuck cell and `Runtime.terminateExecution` stops it.
 */
import { Session } from "node:inspector";
import type { Worker } from "node:worker_threads";
import { RingbookError } from "../errors.js";
import { isJsonObject } from "../json-guards.js";

interface InspectorReply {
  id: number;
  result?: unknown;
  error?: { message?: string };
}

/** A CDP channel to one worker, through `NodeWorker.sendMessageToWorker`. */
export class WorkerInspector {
  readonly #session: Session;
  readonly #sessionId: string;
  readonly #pending = new Map<number, { resolve: (reply: InspectorReply) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #closed = false;

  private constructor(session: Session, sessionId: string) {
    this.#session = session;
    this.#sessionId = sessionId;
    session.on("NodeWorker.receivedMessageFromWorker", (message) => {
      if (message.params.sessionId !== this.#sessionId) return;
      const reply = parseReply(message.params.message);
      if (!reply) return;
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      pending.resolve(reply);
    });
  }

  /** Attaches to `worker` (which must be starting or running). */
  static async attach(worker: Worker, options: { signal?: AbortSignal } = {}): Promise<WorkerInspector> {
    const session = new Session();
    session.connect();
    try {
      // workerInfo.workerId counts per session; the title names the thread id.
      const wantedTitle = `[worker ${worker.threadId}]`;
      const attached = new Promise<string>((resolve, reject) => {
        const onAttached = (message: { params: { sessionId: string; workerInfo: { title: string } } }): void => {
          const title = message.params.workerInfo.title;
          if (title !== wantedTitle && !title.startsWith(`${wantedTitle} `)) return;
          session.off("NodeWorker.attachedToWorker", onAttached);
          resolve(message.params.sessionId);
        };
        session.on("NodeWorker.attachedToWorker", onAttached);
        options.signal?.addEventListener("abort", () => reject(options.signal?.reason), { once: true });
      });
      await new Promise<void>((resolve, reject) =>
        session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, (error) => (error ? reject(error) : resolve())),
      );
      return new WorkerInspector(session, await attached);
    } catch (error) {
      session.disconnect();
      throw new RingbookError("INSPECTOR_ATTACH", `could not attach the inspector to worker thread ${worker.threadId}`, { cause: error });
    }
  }

  /** Sends one CDP command to the worker and waits for its reply. */
  send(method: string, params: Record<string, unknown> = {}): Promise<InspectorReply> {
    if (this.#closed) return Promise.reject(new RingbookError("INSPECTOR_CLOSED", `inspector session closed; cannot send ${method}`));
    const id = this.#nextId++;
    return new Promise<InspectorReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#session.post("NodeWorker.sendMessageToWorker", { sessionId: this.#sessionId, message: JSON.stringify({ id, method, params }) }, (error) => {
        if (!error) return;
        this.#pending.delete(id);
        reject(new RingbookError("INSPECTOR_SEND", `inspector could not send ${method} to the worker`, { cause: error }));
      });
    });
  }

  /** Idempotent; pending commands fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(new RingbookError("INSPECTOR_CLOSED", "inspector session closed while a command was pending"));
    this.#pending.clear();
    this.#session.disconnect();
  }
}

function parseReply(text: string): InspectorReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value)) return undefined;
  const record = value;
  if (typeof record["id"] !== "number") return undefined;
  const reply: InspectorReply = { id: record["id"], result: record["result"] };
  const error = record["error"];
  if (typeof error === "object" && error !== null) {
    const message = isJsonObject(error) ? error["message"] : undefined;
    reply.error = typeof message === "string" ? { message } : {};
  }
  return reply;
}
