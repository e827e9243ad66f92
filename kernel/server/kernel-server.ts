import { randomUUID } from "node:crypto";
import { RingbookError } from "../../lib/errors.js";
import type { Executor } from "../execution/executor.js";
import type { ConnectionInfo } from "../protocol/connection-info.js";
import { DEFAULT_MAX_MESSAGE_BYTES, hasParent, parseFrames } from "../protocol/frames.js";
import { ProtocolError } from "../protocol/protocol-error.js";
import { parseRequest } from "../protocol/request-validators.js";
import { MessageSigner } from "../protocol/signer.js";
import type { KernelRequest } from "../protocol/wire-types.js";
import { KernelSockets } from "../sockets/kernel-sockets.js";
import { BoundedQueue } from "./bounded-queue.js";
import { CellEventPublisher } from "./cell-event-publisher.js";
import { CellRegistry } from "./cell-registry.js";
import { HistoryStore } from "./history-store.js";
import { kernelInfoContent, type KernelIdentity } from "./kernel-info.js";
import { Outbox, type RequestEnvelope } from "./outbox.js";
import { handleRequest, type HandlerContext } from "./request-handlers.js";
import { warmUpProtocol } from "./protocol-warmup.js";

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

/** A shell or control request with its validated content (or why it has none). */
export interface QueuedRequest extends RequestEnvelope {
  /** undefined: a msg_type the kernel does not know. */
  request: KernelRequest | undefined;
  invalid?: ProtocolError;
  /** Set for execute_requests queued behind a failed cell with stop_on_error. */
  aborted: boolean;
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
 * @example
 * const kernel = await startKernel({ connection, executor, log, historyFile, identity });
 * await kernel.shutdownRequested;
 * await kernel.close();
 */
export async function startKernel(options: KernelOptions): Promise<RunningKernel> {
  const { log, executor } = options;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const signer = new MessageSigner(options.connection.signatureScheme, options.connection.key);
  const kernelSession = randomUUID();
  // Read while the sockets bind: nothing needs it before the first request is handled.
  const historyOpening = HistoryStore.open({ file: options.historyFile, log });
  const shellQueue = new BoundedQueue<QueuedRequest>(options.shellQueueCapacity ?? 1000);
  const closing = new AbortController();
  let resolveShutdown: (value: { restart: boolean }) => void = () => {};
  const shutdownRequested = new Promise<{ restart: boolean }>((resolve) => (resolveShutdown = resolve));

  /** Frames → request, or undefined after one log line when the message must be dropped. */
  const decode = (frames: Buffer[], channel: "shell" | "control" | "stdin"): Omit<QueuedRequest, "channel" | "aborted"> | undefined => {
    let received;
    try {
      received = parseFrames(frames, signer, maxMessageBytes);
    } catch (error) {
      log(`${channel}: dropped a message: ${(error as Error).message}`);
      return undefined;
    }
    const { ids, message } = received;
    try {
      return { ids, message, request: parseRequest(message.header.msg_type, message.content) };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      log(`${channel}: invalid ${message.header.msg_type} ${message.header.msg_id}: ${error.message}`);
      return { ids, message, request: undefined, invalid: error };
    }
  };

  let sockets: KernelSockets | undefined;
  let outbox: Outbox | undefined;
  let events: CellEventPublisher | undefined;
  let context: HandlerContext | undefined;
  let cellSequence = 0;
  /** Set by the first execute_request: the protocol warm-up stops (see protocol-warmup). */
  let cellQueued = false;
  const cells = new CellRegistry();
  // Control and stdin messages may arrive as soon as the sockets are bound, before the rest is set up.
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const handle = async (item: QueuedRequest): Promise<void> => {
    if (outbox === undefined || context === undefined) return;
    const parent = item.message.header;
    outbox.status(parent, "busy");
    try {
      const failed = await handleRequest(item, context);
      if (failed && item.request?.msg_type === "execute_request" && item.request.content.stop_on_error) {
        for (const queued of shellQueue.pending()) if (queued.request?.msg_type === "execute_request") queued.aborted = true;
      }
    } catch (error) {
      if (!closing.signal.aborted) {
        const failure = error instanceof Error ? error : new Error(String(error));
        log(`${item.channel}: ${parent.msg_type} ${parent.msg_id} failed: ${failure.stack ?? failure.message}`);
        // The client waits for a reply: give it the error rather than silence.
        outbox.replyError(item, { ename: failure.name, evalue: failure.message, traceback: [failure.stack ?? failure.message] });
      }
    } finally {
      outbox.status(parent, "idle");
    }
  };

  try {
    sockets = await KernelSockets.bind(
      options.connection,
      {
        shell: async (frames) => {
          const decoded = decode(frames, "shell");
          if (decoded?.request?.msg_type === "execute_request") cellQueued = true;
          if (decoded !== undefined) await shellQueue.put({ ...decoded, channel: "shell", aborted: false });
        },
        control: async (frames) => {
          const decoded = decode(frames, "control");
          await ready;
          if (decoded !== undefined) await handle({ ...decoded, channel: "control", aborted: false });
        },
        stdin: async (frames) => {
          const item = decode(frames, "stdin");
          await ready;
          if (item === undefined || events === undefined) return;
          if (item.request?.msg_type !== "input_reply") {
            log(`stdin: ignored ${item.message.header.msg_type} (only input_reply is expected there)`);
            return;
          }
          const parent = item.message.parent_header;
          const requestId = events.takeInputRequest(hasParent(parent) ? parent.msg_id : undefined);
          if (requestId === undefined) log("stdin: input_reply with no input request waiting; ignored");
          else executor.provideInput(requestId, item.request.content.value);
        },
      },
      log,
    );
  } catch (error) {
    shellQueue.close();
    await (await historyOpening).close();
    throw error;
  }
  const history = await historyOpening;
  const boundSockets = sockets;
  outbox = new Outbox(sockets, signer, kernelSession);
  events = new CellEventPublisher(outbox, cells, log);
  context = {
    executor,
    outbox,
    cells,
    events,
    history,
    signal: closing.signal,
    counter: { value: 0 },
    nextCellId: () => `cell-${++cellSequence}`,
    log,
    kernelInfo: () => kernelInfoContent(options.identity),
    requestShutdown: (restart) => resolveShutdown({ restart }),
  };
  executor.onEvent((cellId, event) => events?.handle(cellId, event));
  outbox.status({}, "starting");
  markReady();

  const shellLoop = (async () => {
    let first = true;
    for (;;) {
      const item = await shellQueue.take();
      if (item === undefined) return;
      await handle(item);
      if (first) {
        first = false;
        // After the first reply (kernel_info, as a rule), so that it is not delayed.
        void warmUpProtocol({ signer, decode: (frames) => decode(frames, "shell"), shouldStop: () => cellQueued || closing.signal.aborted });
      }
    }
  })();

  let closePromise: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closePromise ??= (async () => {
      markReady();
      closing.abort(new RingbookError("KERNEL_CLOSED", "the kernel closed while a request was being handled"));
      shellQueue.close();
      await shellLoop;
      await executor.close().catch((error: unknown) => log(`executor close failed: ${(error as Error).message}`));
      await boundSockets.close();
      await history.close();
    })();
    return closePromise;
  };
  return {
    shutdownRequested,
    interrupt: () => executor.interrupt(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
