import { randomUUID } from "node:crypto";
import { hasParent } from "./frames.js";
import type { JsonObject } from "./json-guards.js";
import { PROTOCOL_VERSION, type ErrorContent, type MessageHeader, type ParentHeader, type IopubContents, type IopubType, type OutgoingType, type ReplyContents, type ReplyType, type StdinContents, type StdinType, type WireMessage } from "./wire-types.js";

/**
 * Derives a reply or side-effect message from the request it answers: a new msg_id, the request's
 * session and username, protocol version 5.3, the current date, and the request's header as
 * `parent_header`. Replies are never assembled by copying and patching a request header.
 *
 * @example
 * const reply = childOf(request, "kernel_info_reply", kernelInfo);
 */
export function childOf<K extends ReplyType>(parent: Pick<WireMessage, "header">, msgType: K, content: ReplyContents[K], metadata?: JsonObject): WireMessage<object>;
export function childOf<K extends IopubType>(parent: Pick<WireMessage, "header">, msgType: K, content: IopubContents[K], metadata?: JsonObject): WireMessage<object>;
export function childOf<K extends StdinType>(parent: Pick<WireMessage, "header">, msgType: K, content: StdinContents[K], metadata?: JsonObject): WireMessage<object>;
export function childOf(parent: Pick<WireMessage, "header">, msgType: OutgoingType, content: object, metadata: JsonObject = {}): WireMessage<object> {
  return buildMessage(parent.header, msgType, content, metadata);
}

/**
 * An iopub message whose parent may be absent (e.g. output of a cell whose request was forgotten):
 * `parent_header` is `{}` and the session is the kernel's own.
 */
export function messageWithParent<K extends IopubType>(
  parent: ParentHeader,
  kernelSession: string,
  msgType: K,
  content: IopubContents[K],
  metadata: JsonObject = {},
): WireMessage<object> {
  if (hasParent(parent)) return buildMessage(parent, msgType, content, metadata);
  return {
    header: newHeader(msgType, kernelSession, "ringbook"),
    parent_header: {},
    metadata,
    content,
    buffers: [],
  };
}

/**
 * An error reply to any request, named `<base>_reply` after the request's msg_type: used for
 * request types the kernel does not handle (ipykernel only logs those; a waiting client would
 * hang), invalid content, and handlers that failed.
 */
export function errorReplyTo(parent: Pick<WireMessage, "header">, content: ErrorContent): WireMessage<object> {
  const requestType = parent.header.msg_type;
  const replyType = requestType.endsWith("_request") ? `${requestType.slice(0, -"_request".length)}_reply` : `${requestType}_reply`;
  return buildMessage(parent.header, replyType, { status: "error", ...content }, {});
}

function buildMessage(parent: MessageHeader, msgType: string, content: object, metadata: JsonObject): WireMessage<object> {
  return {
    header: newHeader(msgType, parent.session, parent.username),
    parent_header: parent,
    metadata,
    content,
    buffers: [],
  };
}

function newHeader(msgType: string, session: string, username: string): MessageHeader {
  return { msg_id: randomUUID(), session, username, date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}
