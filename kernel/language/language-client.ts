/**
 * The executor's handle on the language-service worker. The worker (and `typescript`, ~380 ms to
 * load plus the first program) starts in the background, never on the execute path; requests made
 * before it is ready wait for it, and are answered strictly in order.
 */
import { Worker } from "node:worker_threads";
import { RingbookError } from "../../lib/errors.js";
import type { CompleteResult, InspectResult } from "./protocol.js";
import type { CellDiagnostic, FromLanguageWorker, LanguageReply, LanguageRequest, LanguageWorkerConfig, ToLanguageWorker } from "./protocol.js";

/** The language worker's young-generation size (see {@link LanguageClient.start}). */
const languageYoungGenerationMb = 4;

/** Client of the language worker. */
export class LanguageClient {
  readonly #config: LanguageWorkerConfig;
  readonly #log: (line: string) => void;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  readonly #pending = new Map<number, { resolve: (reply: LanguageReply) => void; reject: (error: Error) => void }>();
  /** Cells executed before the service started; sent first when it starts. */
  #backlog: string[] = [];
  #nextId = 1;
  #closed = false;
  /** Set when close() begins: a start cut short by it is not reported as a failure. */
  #closing = false;

  constructor(config: LanguageWorkerConfig, log: (line: string) => void) {
    this.#config = config;
    this.#log = log;
  }

  /** True once {@link start} was called (the worker runs or is starting). */
  get started(): boolean {
    return this.#ready !== undefined;
  }

  /** Starts the worker if it is not started; resolves when it has built its first program. */
  start(): Promise<void> {
    if (this.#ready) return this.#ready;
    if (this.#closed) return Promise.reject(new RingbookError("LANGUAGE_CLOSED", "the language service is closed"));
    const worker = new Worker(new URL("./language-worker.js", import.meta.url), {
      workerData: this.#config,
      stdout: true,
      stderr: true,
      // A small young generation: with V8's default (16 MiB semi-spaces) the worker's heap stayed
      // ~350 MiB after its idle collection (see idle-gc.ts); with 4 MiB it went back to ~100 MiB.
      // Checks are background work, so their few percent of extra GC time does not matter.
      resourceLimits: { maxYoungGenerationSizeMb: languageYoungGenerationMb },
    });
    worker.stdout.on("data", (chunk: Buffer) => this.#log(`language worker stdout: ${chunk.toString().trimEnd()}`));
    worker.stderr.on("data", (chunk: Buffer) => this.#log(`language worker stderr: ${chunk.toString().trimEnd()}`));
    worker.unref();
    this.#worker = worker;
    const startedAt = performance.now();
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (message: FromLanguageWorker) => {
        if (message.id <= 0) {
          const line = message.ok && message.reply.kind === "log" ? message.reply.line : "";
          if (message.id === -1) {
            this.#log(line);
            return;
          }
          this.#log(`language service ready in ${Math.round(performance.now() - startedAt)} ms: ${line}`);
          resolve();
          return;
        }
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        if (message.ok) pending.resolve(message.reply);
        else pending.reject(new RingbookError("LANGUAGE_FAILED", `language service failed: ${message.message}`));
      });
      worker.on("error", (error) => this.#log(`language worker error: ${error.stack ?? error.message}`));
      worker.once("exit", (code) => {
        const error = new RingbookError("LANGUAGE_EXITED", `language worker exited with code ${code}`);
        reject(error);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
      });
    });
    for (const code of this.#backlog) this.commit(code);
    this.#backlog = [];
    // A failed start is reported to each request; the background start itself must not throw.
    // A worker terminated by close() while it started is no news ("unavailable" at every quick shutdown).
    this.#ready.catch((error: unknown) => {
      if (!this.#closing) this.#log(`language service unavailable: ${error instanceof Error ? error.message : String(error)}`);
    });
    return this.#ready;
  }

  /**
   * Adds an executed cell to the model: kept here until the service is started (no promise, no
   * message: this runs after every cell), sent in order after it. A failure is logged.
   */
  commit(code: string): void {
    if (!this.#ready) {
      this.#backlog.push(code);
      return;
    }
    this.#request({ kind: "commit", code }).catch((error: unknown) => this.#log(`language commit failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  /** Type errors of `code` as run after the first `contextCells` committed cells. */
  async diagnose(code: string, contextCells: number): Promise<CellDiagnostic[]> {
    const reply = await this.#request({ kind: "diagnose", code, contextCells });
    return reply.kind === "diagnose" ? reply.diagnostics : [];
  }

  /**
   * Starts the classic language service in the background: JupyterLab drops a first completion
   * that takes over a second, and the service takes about that to start. A failure is logged.
   */
  prepareCompletions(): void {
    this.#request({ kind: "prepareCompletions" }).catch((error: unknown) => this.#log(`language service start failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  async complete(code: string, cursor: number): Promise<CompleteResult> {
    const reply = await this.#request({ kind: "complete", code, cursor });
    if (reply.kind !== "complete") throw new RingbookError("LANGUAGE_REPLY", `expected a complete reply, got ${reply.kind}`);
    return reply.result;
  }

  async inspect(code: string, cursor: number, detailLevel: 0 | 1): Promise<InspectResult> {
    const reply = await this.#request({ kind: "inspect", code, cursor, detailLevel });
    if (reply.kind !== "inspect") throw new RingbookError("LANGUAGE_REPLY", `expected an inspect reply, got ${reply.kind}`);
    return reply.result;
  }

  /** Stops the native compiler's process, then the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    const worker = this.#worker;
    if (worker) {
      // Only a worker that started can close what it started; one still starting is terminated,
      // and the compiler's process sees its pipes close and exits.
      const ready = await Promise.race([this.#ready?.then(() => true, () => false), new Promise<false>((resolve) => setImmediate(() => resolve(false)))]);
      if (ready) await this.#request({ kind: "close" }).catch((error: unknown) => this.#log(`language close failed: ${error instanceof Error ? error.message : String(error)}`));
    }
    this.#closed = true;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  async #request(request: LanguageRequest): Promise<LanguageReply> {
    await this.start();
    const worker = this.#worker;
    if (!worker || this.#closed) throw new RingbookError("LANGUAGE_CLOSED", `the language service is closed (request ${request.kind})`);
    const id = this.#nextId++;
    return new Promise<LanguageReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, request } satisfies ToLanguageWorker);
    });
  }
}
