import { isJsonObject, quote, type JsonObject } from "./json-guards.js";
import { ProtocolError } from "./protocol-error.js";
import type { MessageSigner } from "./signer.js";
import { DELIMITER, type MessageHeader, type ParentHeader, type WireMessage } from "./wire-types.js";

/** A message as received on a ROUTER socket: the routing ids to answer to, and the message. */
export interface ReceivedMessage {
  ids: Buffer[];
  message: WireMessage;
}

/** Default largest accepted message (all frames together). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const delimiterBytes = Buffer.from(DELIMITER, "utf8");

/**
 * Decodes `[ids..., "<IDS|MSG>", signature, header, parent_header, metadata, content, ...buffers]`.
 * Checks size first, then the signature over the raw JSON parts (so nothing unsigned is parsed
 * further), then parses the JSON. Throws {@link ProtocolError} naming what was wrong.
 */
export function parseFrames(frames: readonly Buffer[], signer: MessageSigner, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): ReceivedMessage {
  let totalBytes = 0;
  for (const frame of frames) totalBytes += frame.length;
  if (totalBytes > maxMessageBytes) {
    throw new ProtocolError("PROTOCOL_TOO_LARGE", `message of ${totalBytes} bytes exceeds the limit of ${maxMessageBytes} bytes`);
  }
  const delimiterIndex = frames.findIndex((frame) => frame.equals(delimiterBytes));
  if (delimiterIndex < 0) {
    throw new ProtocolError("PROTOCOL_FRAMES", `no ${DELIMITER} delimiter among ${frames.length} frames`);
  }
  if (frames.length < delimiterIndex + 6) {
    throw new ProtocolError(
      "PROTOCOL_FRAMES",
      `expected signature, header, parent_header, metadata and content after ${DELIMITER}, got ${frames.length - delimiterIndex - 1} frames`,
    );
  }
  const part = (offset: number): Buffer => frames[delimiterIndex + offset] as Buffer; // length checked above
  const signed = [part(2), part(3), part(4), part(5)];
  if (!signer.verify(part(1), signed)) {
    throw new ProtocolError("PROTOCOL_SIGNATURE", `invalid signature ${quote(part(1).toString("latin1"), 70)}`);
  }
  const header = parseHeader(parseJsonObject(part(2), "header"), "header");
  const parent = parseJsonObject(part(3), "parent_header");
  const metadata = parseJsonObject(part(4), "metadata");
  const content = parseJsonObject(part(5), "content");
  return {
    ids: frames.slice(0, delimiterIndex),
    message: {
      header,
      parent_header: Object.keys(parent).length === 0 ? {} : parseHeader(parent, "parent_header"),
      metadata,
      content,
      buffers: frames.slice(delimiterIndex + 6),
    },
  };
}

/**
 * An outgoing frame: the JSON parts and the other text frames stay strings. zeromq.js sends a string
 * from its own UTF-8 copy, freed on ZeroMQ's I/O thread, whereas a Buffer over 128 bytes is sent
 * zero-copy and released through a callback on the main thread (one more wake-up per frame).
 */
export type OutgoingFrame = Buffer | string;

/**
 * Encodes a message for sending on a ROUTER (with ids) or PUB socket (ids = topic) with its
 * signature, as `[...ids, "<IDS|MSG>", signature, header, parent_header, metadata, content, ...buffers]`.
 */
export function encodeMessage(ids: ReadonlyArray<OutgoingFrame>, message: WireMessage<object>, signer: MessageSigner): OutgoingFrame[] {
  const parts = [JSON.stringify(message.header), JSON.stringify(message.parent_header), JSON.stringify(message.metadata), JSON.stringify(message.content)];
  return [...ids, DELIMITER, signer.sign(parts), ...parts, ...message.buffers];
}

/** {@link encodeMessage} with every frame as a Buffer (as {@link parseFrames} reads them). */
export function serializeMessage(ids: readonly Buffer[], message: WireMessage<object>, signer: MessageSigner): Buffer[] {
  return encodeMessage(ids, message, signer).map((frame) => (typeof frame === "string" ? Buffer.from(frame, "utf8") : frame));
}

function parseJsonObject(part: Buffer, name: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(part.toString("utf8"));
  } catch (error) {
    throw new ProtocolError("PROTOCOL_JSON", `${name} is not valid JSON: ${quote(part.toString("utf8"))}`, { cause: error });
  }
  if (!isJsonObject(value)) {
    throw new ProtocolError("PROTOCOL_JSON", `${name} must be a JSON object, got ${quote(value)}`);
  }
  return value;
}

/** Validates a header; `username`, `date` and `version` default to "" as some clients omit them. */
export function parseHeader(value: JsonObject, name: string): MessageHeader {
  const { msg_id, msg_type, session, username = "", date = "", version = "" } = value;
  if (typeof msg_id !== "string" || typeof msg_type !== "string" || typeof session !== "string") {
    throw new ProtocolError("PROTOCOL_HEADER", `${name} needs string msg_id, msg_type and session, got ${quote(value, 160)}`);
  }
  if (typeof username !== "string" || typeof date !== "string" || typeof version !== "string") {
    throw new ProtocolError("PROTOCOL_HEADER", `${name} has a non-string username, date or version: ${quote(value, 160)}`);
  }
  return { msg_id, msg_type, session, username, date, version };
}

/** True when a parent header is a real header rather than `{}`. */
export function hasParent(parent: ParentHeader): parent is MessageHeader {
  return "msg_id" in parent;
}
