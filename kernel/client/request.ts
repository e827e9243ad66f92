import { randomUUID } from "node:crypto";
import { RingbookError } from "../../lib/errors.js";
import { PROTOCOL_VERSION, type ReplyContents, type RequestContents, type WireMessage } from "../protocol/wire-types.js";

/**
 * msg_type → content of every request the client sends: those answered by a reply (comm messages
 * have none, and input_reply goes on stdin, which this client does not connect).
 */
export type ClientRequestContents = Pick<
  RequestContents,
  | "kernel_info_request"
  | "execute_request"
  | "complete_request"
  | "inspect_request"
  | "is_complete_request"
  | "history_request"
  | "comm_info_request"
  | "shutdown_request"
  | "interrupt_request"
>;

export type ClientRequestType = keyof ClientRequestContents;

/** msg_type → content of the messages the client sends that get no reply, only an idle status. */
export type ClientNotificationContents = Pick<RequestContents, "comm_open" | "comm_msg" | "comm_close">;

export type ClientNotificationType = keyof ClientNotificationContents;

/** The msg_type of the reply to a request: `<base>_request` → `<base>_reply`. */
export type ReplyTypeOf<K extends ClientRequestType> = K extends `${infer Base}_request` ? `${Base}_reply` : never;

/** A reply's status: what the kernel answers for that request, or "error" when its handler failed. */
export type ReplyStatusOf<K extends ClientRequestType> = ReplyContents[ReplyTypeOf<K>]["status"] | "error";

/** The outcome of one request: its reply (checked type and status), after its idle status. */
export interface CompletedRequest<K extends ClientRequestType> {
  /** The reply as received; its content is JSON for the caller to read. */
  reply: WireMessage;
  /** The reply's status, one of those its type allows. */
  status: ReplyStatusOf<K>;
}

/** What each request's reply must look like. */
const replyShapes: { [K in ClientRequestType]: { replyType: ReplyTypeOf<K>; statuses: ReadonlyArray<ReplyStatusOf<K>> } } = {
  kernel_info_request: { replyType: "kernel_info_reply", statuses: ["ok", "error"] },
  execute_request: { replyType: "execute_reply", statuses: ["ok", "error", "aborted"] },
  complete_request: { replyType: "complete_reply", statuses: ["ok", "error"] },
  inspect_request: { replyType: "inspect_reply", statuses: ["ok", "error"] },
  is_complete_request: { replyType: "is_complete_reply", statuses: ["complete", "incomplete", "invalid", "unknown", "error"] },
  history_request: { replyType: "history_reply", statuses: ["ok", "error"] },
  comm_info_request: { replyType: "comm_info_reply", statuses: ["ok", "error"] },
  shutdown_request: { replyType: "shutdown_reply", statuses: ["ok", "error"] },
  interrupt_request: { replyType: "interrupt_reply", statuses: ["ok", "error"] },
};

/**
 * A new request from a client: fresh msg_id, the client's session, no parent. The client's
 * `request` and `notify` type `content` by `msgType`.
 */
export function newRequest(msgType: ClientRequestType | ClientNotificationType, content: object, session: string): WireMessage<object> {
  return {
    header: { msg_id: randomUUID(), session, username: "ringbook", date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION },
    parent_header: {},
    metadata: {},
    content,
    buffers: [],
  };
}

/**
 * Checks that `reply` answers a `requestType`: its msg_type is the matching reply type and its
 * status one that type allows. Throws a RingbookError quoting what came instead.
 */
export function parseReply<K extends ClientRequestType>(requestType: K, reply: WireMessage): CompletedRequest<K> {
  const shape = replyShapes[requestType];
  if (reply.header.msg_type !== shape.replyType) {
    throw new RingbookError("ERR_BAD_REPLY", `${requestType} was answered by ${JSON.stringify(reply.header.msg_type)}, expected ${shape.replyType}`);
  }
  const received = reply.content["status"];
  const status = shape.statuses.find((allowed) => allowed === received);
  if (status === undefined) {
    throw new RingbookError("ERR_BAD_REPLY", `${shape.replyType} has status ${JSON.stringify(received)}, expected one of ${shape.statuses.join(", ")}`);
  }
  return { reply, status };
}
