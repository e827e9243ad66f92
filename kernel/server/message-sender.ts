import { childOf, messageWithParent, errorReplyTo } from "../protocol/child-of.js";
import { encodeMessage } from "../protocol/frames.js";
import type { JsonObject } from "../protocol/json-guards.js";
import type { MessageSigner } from "../protocol/signer.js";
import type {
  ErrorContent,
  IopubContents,
  IopubType,
  MessageHeader,
  ParentHeader,
  ReplyChannel,
  ReplyContents,
  ReplyType,
  StdinContents,
  StdinType,
  WireMessage,
} from "../protocol/wire-types.js";
import type { KernelSockets } from "../sockets/kernel-sockets.js";

/** A received request and where its reply goes. */
export interface RequestEnvelope {
  channel: ReplyChannel;
  ids: Buffer[];
  message: WireMessage;
}

/**
 * Signs and queues every message the kernel sends, one method per channel so that a message can
 * only go where the protocol puts it (a stream cannot be sent as a reply): replies to the channel
 * of their request, iopub messages to every subscriber, input requests on stdin. Replies and
 * iopub messages are derived from their parent with {@link childOf}; each channel's messages leave
 * in the order they were queued.
 */
export class MessageSender {
  readonly #sockets: KernelSockets;
  readonly #signer: MessageSigner;
  readonly #kernelSession: string;

  constructor(sockets: KernelSockets, signer: MessageSigner, kernelSession: string) {
    this.#sockets = sockets;
    this.#signer = signer;
    this.#kernelSession = kernelSession;
  }

  /** Replies on the channel the request came from, to its sender. */
  reply<K extends ReplyType>(request: RequestEnvelope, msgType: K, content: ReplyContents[K], metadata?: JsonObject): void {
    this.#sockets.send(request.channel, encodeMessage(request.ids, childOf(request.message, msgType, content, metadata), this.#signer));
  }

  /** Replies `<base>_reply` with status "error" (unknown or invalid requests, failed handlers). */
  replyError(request: RequestEnvelope, content: ErrorContent): void {
    this.#sockets.send(request.channel, encodeMessage(request.ids, errorReplyTo(request.message, content), this.#signer));
  }

  /**
   * Publishes on iopub with `parent` as parent_header ({} when the parent is unknown). The header
   * (id, date) is made now; JSON and signature when the message's turn to be sent comes, so a
   * cell's busy status and execute_input cost nothing before the cell reaches its worker. A
   * content that cannot be encoded (a BigInt in display data) is dropped with a log line.
   * `content` and `metadata` must not change after this call.
   */
  publish<K extends IopubType>(parent: ParentHeader, msgType: K, content: IopubContents[K], metadata?: JsonObject): void {
    const message = messageWithParent(parent, this.#kernelSession, msgType, content, metadata);
    const topic = `kernel.${this.#kernelSession}.${msgType}`;
    this.#sockets.send("iopub", () => encodeMessage([topic], message, this.#signer));
  }

  /** Publishes busy or idle for a request. */
  status(parent: ParentHeader, state: "busy" | "idle" | "starting"): void {
    this.publish(parent, "status", { execution_state: state });
  }

  /** Sends on stdin to a shell request's sender; returns the new message's msg_id. */
  sendStdin<K extends StdinType>(ids: Buffer[], parent: MessageHeader, msgType: K, content: StdinContents[K]): string {
    const message = childOf({ header: parent }, msgType, content);
    this.#sockets.send("stdin", encodeMessage(ids, message, this.#signer));
    return message.header.msg_id;
  }
}
