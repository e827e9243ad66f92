import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { RingbookError } from "../../lib/errors.js";
import { channelEndpoint, type ConnectionInfo } from "../protocol/connection-info.js";
import { parseFrames, serializeMessage } from "../protocol/frames.js";
import { isJsonObject, type JsonObject } from "../protocol/json-guards.js";
import { MessageSigner } from "../protocol/signer.js";
import type { WireMessage } from "../protocol/wire-types.js";
import { newRequest } from "./request.js";

/** An iopub message for a request, as the client hands it to that request's listener. */
export type IopubListener = (message: WireMessage) => void;

/** How many completed requests keep their iopub listener (a notebook's cells, as a rule). */
const maxListeningAfterDone = 10_000;

/** The outcome of one request: its reply, and every iopub message up to the idle status. */
export interface CompletedRequest {
  reply: WireMessage;
}

/**
 * A Jupyter client over ZeroMQ: DEALER sockets for shell and control, SUB for iopub. A request
 * completes when both its reply and its `idle` status have arrived (as in JupyterLab's futures), so
 * no output is missed. Every receive loop and socket is owned and closed by {@link close}.
 */
export class KernelClient {
  readonly session = randomUUID();
  readonly #signer: MessageSigner;
  readonly #shell: zmq.Dealer;
  readonly #control: zmq.Dealer;
  readonly #iopub: zmq.Subscriber;
  readonly #pending = new Map<
    string,
    { onIopub: IopubListener; reply?: WireMessage; expectsReply: boolean; idle: boolean; keepListening: boolean; done: (reply: WireMessage | undefined) => void }
  >();
  /** Completed requests whose later iopub messages still go to their listener (see `keepListening`). */
  readonly #finished = new Map<string, IopubListener>();
  readonly #loops: Promise<void>[];
  #sendChain: Record<"shell" | "control", Promise<void>> = { shell: Promise.resolve(), control: Promise.resolve() };
  #closed = false;
  /** Iopub messages with no pending request (e.g. output after a cell finished). */
  onUnclaimedIopub: IopubListener = () => undefined;

  constructor(info: ConnectionInfo, private readonly log: (line: string) => void = () => undefined) {
    this.#signer = new MessageSigner(info.signatureScheme, info.key);
    this.#shell = new zmq.Dealer({ linger: 0 });
    this.#control = new zmq.Dealer({ linger: 0 });
    this.#iopub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
    this.#shell.connect(channelEndpoint(info, "shell"));
    this.#control.connect(channelEndpoint(info, "control"));
    this.#iopub.connect(channelEndpoint(info, "iopub"));
    this.#iopub.subscribe();
    this.#loops = [this.#receive(this.#shell, "shell"), this.#receive(this.#control, "control"), this.#receive(this.#iopub, "iopub")];
  }

  /**
   * Sends a request and resolves when its reply and its idle status have both arrived.
   * `onIopub` sees every iopub message whose parent is this request, in order; with
   * `keepListening`, also those that come after it completed (output of a timer or of a training
   * run the request started), for the last {@link maxListeningAfterDone} such requests.
   */
  async request(
    channel: "shell" | "control",
    msgType: string,
    content: object,
    options: { onIopub?: IopubListener; signal?: AbortSignal; keepListening?: boolean } = {},
  ): Promise<CompletedRequest> {
    const reply = await this.#send(channel, msgType, content, true, options);
    if (reply === undefined) throw new RingbookError("ERR_NO_REPLY", `${msgType} completed without a reply`);
    return { reply };
  }

  /**
   * Sends a message the protocol answers with no reply (comm_open, comm_msg, comm_close) and
   * resolves when its idle status has arrived; `onIopub` sees what the kernel published under it.
   */
  async notify(channel: "shell" | "control", msgType: string, content: object, options: { onIopub?: IopubListener; signal?: AbortSignal } = {}): Promise<void> {
    await this.#send(channel, msgType, content, false, options);
  }

  async #send(
    channel: "shell" | "control",
    msgType: string,
    content: object,
    expectsReply: boolean,
    options: { onIopub?: IopubListener; signal?: AbortSignal; keepListening?: boolean },
  ): Promise<WireMessage | undefined> {
    if (this.#closed) throw new RingbookError("ERR_CLIENT_CLOSED", `cannot send ${msgType}: the kernel client is closed`);
    const message = newRequest(msgType, content, this.session);
    const id = message.header.msg_id;
    const completed = new Promise<WireMessage | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(options.signal?.reason ?? new RingbookError("ERR_ABORTED", `${msgType} aborted`));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        onIopub: options.onIopub ?? (() => undefined),
        expectsReply,
        idle: false,
        keepListening: options.keepListening === true,
        done: (result) => {
          options.signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
      });
    });
    const socket = channel === "shell" ? this.#shell : this.#control;
    const frames = serializeMessage([], message, this.#signer);
    // zeromq refuses a second pending send on one socket: chain them.
    const sent = this.#sendChain[channel].then(() => socket.send(frames));
    this.#sendChain[channel] = sent.catch(() => undefined);
    await sent;
    return completed;
  }

  async #receive(socket: zmq.Dealer | zmq.Subscriber, name: string): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: WireMessage;
        try {
          // SUB frames start with the topic; DEALER frames with the delimiter. parseFrames finds it.
          message = parseFrames(frames, this.#signer).message;
        } catch (error) {
          this.log(`${name}: dropped a bad message: ${(error as Error).message}`);
          continue;
        }
        this.#dispatch(message, name);
      }
    } catch (error) {
      if (!this.#closed) this.log(`${name}: receive failed: ${(error as Error).message}`);
    }
  }

  #dispatch(message: WireMessage, channel: string): void {
    const parentId = "msg_id" in message.parent_header ? message.parent_header.msg_id : undefined;
    const pending = parentId === undefined ? undefined : this.#pending.get(parentId);
    if (channel === "iopub") {
      if (pending === undefined) {
        const listener = parentId === undefined ? undefined : this.#finished.get(parentId);
        if (listener !== undefined) listener(message);
        else this.onUnclaimedIopub(message);
        return;
      }
      pending.onIopub(message);
      if (message.header.msg_type === "status" && isJsonObject(message.content) && message.content["execution_state"] === "idle") pending.idle = true;
    } else if (pending !== undefined) {
      pending.reply = message;
    }
    if (pending !== undefined && pending.idle && (pending.reply !== undefined || !pending.expectsReply) && parentId !== undefined) {
      this.#pending.delete(parentId);
      if (pending.keepListening) {
        this.#finished.set(parentId, pending.onIopub);
        if (this.#finished.size > maxListeningAfterDone) {
          const oldest = this.#finished.keys().next();
          if (oldest.done !== true) this.#finished.delete(oldest.value);
        }
      }
      pending.done(pending.reply);
    }
  }

  /**
   * Waits until the kernel answers kernel_info and iopub delivers its status for it: only then are
   * outputs of the next request sure to arrive (a SUB socket misses what was sent before it joined).
   */
  async waitForReady(options: { signal?: AbortSignal } = {}): Promise<JsonObject> {
    for (;;) {
      const attempt = AbortSignal.any([AbortSignal.timeout(1000), ...(options.signal ? [options.signal] : [])]);
      try {
        const { reply } = await this.request("shell", "kernel_info_request", {}, { signal: attempt });
        return reply.content;
      } catch (error) {
        if (options.signal?.aborted) throw error;
        // No reply within a second: iopub may not have joined yet, ask again.
      }
    }
  }

  /** Closes the sockets and waits for the receive loops. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#shell.close();
    this.#control.close();
    this.#iopub.close();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled(Object.values(this.#sendChain));
  }
}
