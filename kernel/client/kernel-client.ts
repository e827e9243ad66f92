import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { RingbookError } from "../../lib/errors.js";
import { channelEndpoint, type ConnectionInfo } from "../protocol/connection-info.js";
import { parseFrames, serializeMessage } from "../protocol/frames.js";
import { isJsonObject, type JsonObject } from "../protocol/json-guards.js";
import { MessageSigner } from "../protocol/signer.js";
import type { WireMessage } from "../protocol/wire-types.js";
import {
  newRequest,
  parseReply,
  type ClientNotificationContents,
  type ClientNotificationType,
  type ClientRequestContents,
  type ClientRequestType,
  type CompletedRequest,
} from "./request.js";

/** An iopub message for a request, as the client hands it to that request's listener. */
export type IopubListener = (message: WireMessage) => void;

/** How many completed requests keep their iopub listener (a notebook's cells, as a rule). */
const maxListeningAfterDone = 10_000;

/** A request waiting for its reply and its idle status. */
interface PendingRequest {
  msgType: string;
  onIopub: IopubListener;
  reply?: WireMessage;
  /** False for comm messages, which complete on their idle status alone. */
  expectsReply: boolean;
  idle: boolean;
  keepListening: boolean;
  /** Settles the caller's promise (with the reply, undefined when none is expected). */
  complete(reply: WireMessage | undefined): void;
  fail(error: unknown): void;
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
  readonly #pending = new Map<string, PendingRequest>();
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
   * Sends a request and resolves when its reply and its idle status have both arrived; rejects
   * when the reply is not one for this request, on abort, and when the client closes first.
   * `onIopub` sees every iopub message whose parent is this request, in order; with
   * `keepListening`, also those that come after it completed (output of a timer or of a training
   * run the request started), for the last {@link maxListeningAfterDone} such requests.
   *
   * @example
   * const { status, reply } = await client.request("shell", "execute_request", { code: "1 + 1", silent: false,
   *   store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
   */
  async request<K extends ClientRequestType>(
    channel: "shell" | "control",
    msgType: K,
    content: ClientRequestContents[K],
    options: { onIopub?: IopubListener; signal?: AbortSignal; keepListening?: boolean } = {},
  ): Promise<CompletedRequest<K>> {
    const reply = await this.#send(channel, msgType, content, true, options);
    if (reply === undefined) throw new RingbookError("ERR_NO_REPLY", `${msgType} completed without a reply`);
    return parseReply(msgType, reply);
  }

  /**
   * Sends a message the protocol answers with no reply (comm_open, comm_msg, comm_close) and
   * resolves when its idle status has arrived; `onIopub` sees what the kernel published under it.
   */
  async notify<K extends ClientNotificationType>(channel: "shell" | "control", msgType: K, content: ClientNotificationContents[K], options: { onIopub?: IopubListener; signal?: AbortSignal } = {}): Promise<void> {
    await this.#send(channel, msgType, content, false, options);
  }

  async #send(
    channel: "shell" | "control",
    msgType: ClientRequestType | ClientNotificationType,
    content: object,
    expectsReply: boolean,
    options: { onIopub?: IopubListener; signal?: AbortSignal; keepListening?: boolean },
  ): Promise<WireMessage | undefined> {
    if (this.#closed) throw new RingbookError("ERR_CLIENT_CLOSED", `cannot send ${msgType}: the kernel client is closed`);
    const message = newRequest(msgType, content, this.session);
    const id = message.header.msg_id;
    const completed = new Promise<WireMessage | undefined>((resolve, reject) => {
      const fail = (error: unknown): void => {
        this.#pending.delete(id);
        options.signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      const onAbort = (): void => fail(options.signal?.reason ?? new RingbookError("ERR_ABORTED", `${msgType} aborted`));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        msgType,
        onIopub: options.onIopub ?? (() => undefined),
        expectsReply,
        idle: false,
        keepListening: options.keepListening === true,
        complete: (reply) => {
          options.signal?.removeEventListener("abort", onAbort);
          resolve(reply);
        },
        fail,
      });
    });
    const socket = channel === "shell" ? this.#shell : this.#control;
    const frames = serializeMessage([], message, this.#signer);
    // zeromq refuses a second pending send on one socket: chain them.
    const sent = this.#sendChain[channel].then(() => socket.send(frames));
    this.#sendChain[channel] = sent.catch(() => undefined);
    // A failed send fails the request, so nothing is left waiting; both are awaited together so
    // that neither rejection goes unhandled.
    const [, result] = await Promise.all([sent.catch((error: unknown) => this.#pending.get(id)?.fail(error)), completed]);
    return result;
  }

  async #receive(socket: zmq.Dealer | zmq.Subscriber, name: string): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: WireMessage;
        try {
          // SUB frames start with the topic; DEALER frames with the delimiter. parseFrames finds it.
          message = parseFrames(frames, this.#signer).message;
        } catch (error) {
          this.log(`${name}: dropped a bad message: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        this.#dispatch(message, name);
      }
    } catch (error) {
      if (!this.#closed) this.log(`${name}: receive failed: ${error instanceof Error ? error.message : String(error)}`);
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
      pending.complete(pending.reply);
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
        // Closed: every later attempt would fail at once, so asking again would never end.
        if (options.signal?.aborted === true || this.#closed) throw error;
        // No reply within a second: iopub may not have joined yet, ask again.
      }
    }
  }

  /** Rejects the requests still waiting, closes the sockets and waits for the receive loops. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of [...this.#pending]) {
      pending.fail(new RingbookError("ERR_CLIENT_CLOSED", `${pending.msgType} ${id} got no ${pending.reply === undefined ? "reply" : "idle status"}: the kernel client closed`));
    }
    this.#shell.close();
    this.#control.close();
    this.#iopub.close();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled(Object.values(this.#sendChain));
  }
}
