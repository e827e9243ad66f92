/**
 * Output of the cell worker: stream text is coalesced per cell and stream (flushed on a microtask,
 * or at 64 KiB, or before any other message so that order is kept), and `console` plus
 * `process.stdout/stderr.write` are redirected to the cell that runs now.
 */
import type { MessagePort } from "node:worker_threads";
import type { FromWorker } from "./worker-protocol.js";

const flushThresholdChars = 64 * 1024;

/** Ordered messages to the main thread, with stream text coalesced. */
export class Outbox {
  readonly #port: MessagePort;
  readonly #queueMicrotask: (callback: () => void) => void;
  #pending: { cellId: string; name: "stdout" | "stderr"; text: string } | undefined;
  #flushScheduled = false;

  /** @param queueMicrotask the unwrapped one, so flushing carries no cell context. */
  constructor(port: MessagePort, queueMicrotask: (callback: () => void) => void) {
    this.#port = port;
    this.#queueMicrotask = queueMicrotask;
  }

  stream(cellId: string, name: "stdout" | "stderr", text: string): void {
    if (text.length === 0) return;
    const pending = this.#pending;
    if (pending && pending.cellId === cellId && pending.name === name) {
      pending.text += text;
    } else {
      this.flush();
      this.#pending = { cellId, name, text };
    }
    if ((this.#pending?.text.length ?? 0) >= flushThresholdChars) {
      this.flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#queueMicrotask(() => {
        this.#flushScheduled = false;
        this.flush();
      });
    }
  }

  post(message: FromWorker): void {
    this.flush();
    this.#port.postMessage(message);
  }

  flush(): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    this.#port.postMessage({ type: "event", cellId: pending.cellId, event: { kind: "stream", name: pending.name, text: pending.text } } satisfies FromWorker);
  }
}

export { redirectOutput } from "../../lib/threads/redirect-output.js";
