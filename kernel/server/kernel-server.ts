import { randomUUID } from "node:crypto";
import { AsyncQueue } from "../../lib/async-queue.js";
import { RingbookError } from "../../lib/errors.js";
import type { Executor } from "../execution/executor.js";
import type { ConnectionInfo } from "../protocol/connection-info.js";
import { DEFAULT_MAX_MESSAGE_BYTES, hasParent } from "../protocol/frames.js";
import { MessageSigner } from "../protocol/signer.js";
import { KernelSockets } from "../sockets/kernel-sockets.js";
import { CellEventPublisher } from "./cell-event-publisher.js";
import { CellRegistry } from "./cell-registry.js";
import { HistoryStore } from "./history-store.js";
import { kernelInfoContent, type KernelIdentity } from "./kernel-info.js";
import { MessageSender } from "./message-sender.js";
import { warmUpProtocol } from "./protocol-warmup.js";
import { RequestDecoder, type QueuedRequest } from "./request-decoder.js";
import { handleRequest, type HandlerContext } from "./request-handlers.js";

export interface KernelOptions {
  connection: ConnectionInfo;
  /** Owned by the kernel from now on: closed by {@link RunningKernel.close}. */
  executor: Executor;
  log: (line: string) => void;
  /** JSON-lines history file (see historyFilePath()). */
  historyFile: string;
  identity: KernelIdentity;
  /** Largest accepted message, all frames together. @default 64 MiB */
  maxMessageBytes?: number;
  /** Shell requests received and waiting to run. @default 1000 */
  shellQueueCapacity?: number;
}

/** A started kernel. */
export interface RunningKernel {
  /** Resolves when a shutdown_request was answered; the owner then calls close() and exits. */
  readonly shutdownRequested: Promise<{ restart: boolean }>;
  /** Stops the running cell (as interrupt_request does); used for SIGINT. */
  interrupt(): Promise<void>;
  /** Closes sockets, executor and history. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Binds the channels of `connection` and serves Jupyter requests with `executor`. Shell requests run
 * strictly in order from a bounded queue; control has its own loop so interrupt and shutdown never
 * wait behind a busy shell; every request is wrapped in busy/idle under its own header.
 *
 * In order: bind the sockets (while the history file is read), build what handles messages, then
 * start the receive loops; a failed start closes what it had opened, then rethrows.
 *
 * @example
 * const kernel = await startKernel({ connection, executor, log, historyFile, identity });
 * await kernel.shutdownRequested;
 * await kernel.close();
 */
export async function startKernel(options: KernelOptions): Promise<RunningKernel> {
  // Read while the sockets bind: nothing needs it before the first request is handled.
  const historyOpening = HistoryStore.open({ file: options.historyFile, log: options.log });
  let sockets: KernelSockets;
  try {
    sockets = await KernelSockets.bind(options.connection, options.log);
  } catch (error) {
    await (await historyOpening).close();
    throw error;
  }
  let history: HistoryStore;
  try {
    history = await historyOpening;
  } catch (error) {
    await sockets.close();
    throw error;
  }
  return new KernelServer(options, sockets, history);
}

/**
 * The kernel once its sockets are bound: everything a handler uses is built by the constructor
 * before it starts the receive loops, so no message meets a half-built kernel.
 */
class KernelServer implements RunningKernel {
  readonly shutdownRequested: Promise<{ restart: boolean }>;
  readonly #executor: Executor;
  readonly #log: (line: string) => void;
  readonly #sockets: KernelSockets;
  readonly #history: HistoryStore;
  readonly #signer: MessageSigner;
  readonly #decoder: RequestDecoder;
  readonly #sender: MessageSender;
  readonly #events: CellEventPublisher;
  readonly #context: HandlerContext;
  readonly #shellQueue: AsyncQueue<QueuedRequest>;
  /** Aborted by close(): a request being handled stops waiting for the executor. */
  readonly #closing = new AbortController();
  readonly #shellLoop: Promise<void>;
  /** Set by the first execute_request: the protocol warm-up stops (see protocol-warmup). */
  #cellQueued = false;
  #closed: Promise<void> | undefined;

  constructor(options: KernelOptions, sockets: KernelSockets, history: HistoryStore) {
    this.#executor = options.executor;
    this.#log = options.log;
    this.#sockets = sockets;
    this.#history = history;
    this.#signer = new MessageSigner(options.connection.signatureScheme, options.connection.key);
    this.#decoder = new RequestDecoder(this.#signer, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, options.log);
    // A full queue holds the shell socket's receive loop back (ZeroMQ then queues, up to its high-water mark).
    this.#shellQueue = new AsyncQueue<QueuedRequest>({ capacity: options.shellQueueCapacity ?? 1000, overflow: "block" });
    let requestShutdown: (value: { restart: boolean }) => void = () => {};
    this.shutdownRequested = new Promise((resolve) => (requestShutdown = resolve));
    this.#sender = new MessageSender(sockets, this.#signer, randomUUID());
    const cells = new CellRegistry();
    this.#events = new CellEventPublisher(this.#sender, cells, options.log);
    let cellSequence = 0;
    this.#context = {
      executor: options.executor,
      sender: this.#sender,
      cells,
      events: this.#events,
      history,
      signal: this.#closing.signal,
      counter: { value: 0 },
      nextCellId: () => `cell-${++cellSequence}`,
      log: options.log,
      kernelInfo: () => kernelInfoContent(options.identity),
      requestShutdown: (restart) => requestShutdown({ restart }),
    };
    const events = this.#events;
    options.executor.onEvent((cellId, event) => events.handle(cellId, event));

    // Built: now messages may come.
    this.#sender.status({}, "starting");
    this.#shellLoop = this.#serveShell();
    sockets.receive({
      shell: (frames) => this.#receiveShell(frames),
      control: (frames) => this.#receiveControl(frames),
      stdin: (frames) => this.#receiveStdin(frames),
    });
  }

  interrupt(): Promise<void> {
    return this.#executor.interrupt();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new RingbookError("KERNEL_CLOSED", "the kernel closed while a request was being handled"));
      this.#shellQueue.close({ discard: true });
      await this.#shellLoop;
      await this.#executor.close().catch((error: unknown) => this.#log(`executor close failed: ${error instanceof Error ? error.message : String(error)}`));
      await this.#sockets.close();
      await this.#history.close();
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Shell requests wait in the queue, where stop_on_error can still abort them. */
  async #receiveShell(frames: Buffer[]): Promise<void> {
    const decoded = this.#decoder.decode(frames, "shell");
    if (decoded === undefined) return;
    if (decoded.request?.msg_type === "execute_request") this.#cellQueued = true;
    await this.#shellQueue.put({ ...decoded, channel: "shell", aborted: false });
  }

  /** Control requests are handled at once, beside a busy shell. */
  async #receiveControl(frames: Buffer[]): Promise<void> {
    const decoded = this.#decoder.decode(frames, "control");
    if (decoded !== undefined) await this.#handle({ ...decoded, channel: "control", aborted: false });
  }

  /** stdin carries only the answers to the input requests of running cells. */
  #receiveStdin(frames: Buffer[]): void {
    const decoded = this.#decoder.decode(frames, "stdin");
    if (decoded === undefined) return;
    if (decoded.request?.msg_type !== "input_reply") {
      this.#log(`stdin: ignored ${decoded.message.header.msg_type} (only input_reply is expected there)`);
      return;
    }
    const parent = decoded.message.parent_header;
    const requestId = this.#events.takeInputRequest(hasParent(parent) ? parent.msg_id : undefined);
    if (requestId === undefined) this.#log("stdin: input_reply with no input request waiting; ignored");
    else this.#executor.provideInput(requestId, decoded.request.content.value);
  }

  /**
   * Runs shell requests one at a time until the queue closes. Owns the protocol warm-up, started
   * after the first reply (kernel_info, as a rule) so that it does not delay it, and stopped by a
   * queued cell or by close(); the loop ends only after it.
   */
  async #serveShell(): Promise<void> {
    let warmUp: Promise<unknown> | undefined;
    try {
      for (;;) {
        const item = await this.#shellQueue.take();
        if (item === undefined) return;
        await this.#handle(item);
        warmUp ??= warmUpProtocol({
          signer: this.#signer,
          decode: (warmUpFrames) => this.#decoder.decode(warmUpFrames, "shell"),
          shouldStop: () => this.#cellQueued,
          signal: this.#closing.signal,
        });
      }
    } finally {
      await warmUp?.catch((error: unknown) => this.#log(`protocol warm-up failed: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  /** One request under busy/idle; a failed handler still answers, with an error reply. */
  async #handle(item: QueuedRequest): Promise<void> {
    const parent = item.message.header;
    this.#sender.status(parent, "busy");
    try {
      const failed = await handleRequest(item, this.#context);
      if (failed && item.request?.msg_type === "execute_request" && item.request.content.stop_on_error) {
        for (const queued of this.#shellQueue.pending()) if (queued.request?.msg_type === "execute_request") queued.aborted = true;
      }
    } catch (error) {
      if (!this.#closing.signal.aborted) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.#log(`${item.channel}: ${parent.msg_type} ${parent.msg_id} failed: ${failure.stack ?? failure.message}`);
        // The client waits for a reply: give it the error rather than silence.
        this.#sender.replyError(item, { ename: failure.name, evalue: failure.message, traceback: [failure.stack ?? failure.message] });
      }
    } finally {
      this.#sender.status(parent, "idle");
    }
  }
}
