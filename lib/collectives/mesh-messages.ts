/**
 * The checks every message between ranks passes, as pure functions: the mesh parses what its
 * ROUTER socket delivers (which connection, a well-formed header that agrees with it, a payload of
 * the announced size), and an operation checks that it is the message it expects next.
 */
import { decodeHeader, describeHeader, type CollectiveHeader, type CollectiveKind, type FrameHeader } from "./frame-header.js";

/** The routing id a rank's outgoing connections carry, which the receiving ROUTER reports. */
export function routingIdOf(rank: number): string {
  return `rank-${rank}`;
}

/** A message from a peer whose header and payload agree with each other and with its connection. */
export interface PeerMessage {
  from: number;
  header: FrameHeader;
  payload: Buffer;
}

/** Parses `[routing id, header, payload]` as received by `rank`'s ROUTER, or says why it is refused. */
export function parsePeerMessage(frames: readonly Buffer[], rank: number, worldSize: number): { ok: true; message: PeerMessage } | { ok: false; connection: string; reason: string } {
  const [identity, headerFrame, payload, ...extra] = frames;
  const connection = identity?.toString("latin1") ?? "";
  const match = /^rank-(\d{1,9})$/.exec(connection);
  const from = match?.[1] === undefined ? -1 : Number(match[1]);
  const refuse = (reason: string): { ok: false; connection: string; reason: string } => ({ ok: false, connection, reason });
  if (from < 0 || from >= worldSize || from === rank) return refuse(`the connection is not one of this rank's peers (world of ${worldSize})`);
  if (headerFrame === undefined || payload === undefined || extra.length > 0) return refuse(`${frames.length - 1} frames, expected 2 (header, payload)`);
  const decoded = decodeHeader(headerFrame);
  if (!decoded.ok) return refuse(decoded.reason);
  const { header } = decoded;
  if (header.source !== from) return refuse(`the header says it is from rank ${header.source}`);
  const payloadBytes = header.kind !== "hello" && header.kind !== "bye" && header.dtype === "float32" ? header.count * 4 : 0;
  if (payload.byteLength !== payloadBytes) return refuse(`payload of ${payload.byteLength} bytes for ${describeHeader(header)}`);
  return { ok: true, message: { from, header, payload } };
}

/** What an operation expects of its next message from a peer (`count`/`total` when known). */
export interface Expectation {
  kind: CollectiveKind;
  sequence: number;
  step: number;
  chunk: number;
  count?: number;
  total?: number;
}

/** The checked header when `header`, received from rank `from`, is the expected message, or why not (with a hint at the likely cause). */
export function matchExpected(header: FrameHeader, expected: Expectation, from: number): { ok: true; header: CollectiveHeader } | { ok: false; reason: string } {
  const refuse = (problem: string): { ok: false; reason: string } => {
    const count = expected.count === undefined ? "" : ` with ${expected.count} values`;
    const total = expected.total === undefined ? "" : ` of ${expected.total}`;
    return { ok: false, reason: `expected ${expected.kind} #${expected.sequence} step ${expected.step} chunk ${expected.chunk}${count}${total} from rank ${from}, got ${describeHeader(header)}: ${problem}` };
  };
  if (header.kind === "hello" || header.kind === "bye" || header.kind !== expected.kind || header.sequence !== expected.sequence) return refuse("every rank must call the same collectives in the same order");
  if (header.dtype !== "float32") return refuse("expected float32 values");
  if (header.step !== expected.step || header.chunk !== expected.chunk) return refuse("message out of order (or the ranks disagree on the root or the chunk size)");
  if ((expected.total !== undefined && header.total !== expected.total) || (expected.count !== undefined && header.count !== expected.count)) {
    return refuse("the ranks passed arrays of different lengths (or use different chunk sizes)");
  }
  return { ok: true, header };
}
