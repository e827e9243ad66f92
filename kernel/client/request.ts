import { randomUUID } from "node:crypto";
import { PROTOCOL_VERSION, type WireMessage } from "../protocol/wire-types.js";

/** A new request from a client: fresh msg_id, the client's session, no parent. */
export function newRequest(msgType: string, content: object, session: string): WireMessage<object> {
  return {
    header: { msg_id: randomUUID(), session, username: "ringbook", date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION },
    parent_header: {},
    metadata: {},
    content,
    buffers: [],
  };
}
