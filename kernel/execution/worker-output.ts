/**
 * Output of the cell worker: stream text is coalesced per cell and stream (flushed on a microtask,
 * or at 64 KiB, or before any other message so that order is kept), and `console` plus
 * `process.stdout/stderr.write` are redirected to the cell that runs now.
 */
import { Console } from "node:console";
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

type WriteCallback = (error?: Error | null) => void;

/** Replaces `console` and the process streams' `write` with ones that call `write(name, text)`. */
export function redirectOutput(write: (name: "stdout" | "stderr", text: string) => void): void {
  const streamFor = (name: "stdout" | "stderr") => {
    const stream = name === "stdout" ? process.stdout : process.stderr;
    const writeChunk = (chunk: unknown, encodingOrCallback?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean => {
      const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8";
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString(encoding) : String(chunk);
      write(name, text);
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (done) process.nextTick(done);
      return true;
    };
    stream.write = writeChunk as typeof stream.write;
    return stream;
  };
  const stdout = streamFor("stdout");
  const stderr = streamFor("stderr");
  // No colours: Jupyter front ends show the text as it is.
  globalThis.console = new Console({ stdout, stderr, colorMode: false });
}
