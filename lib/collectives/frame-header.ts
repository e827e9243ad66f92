/**
 * The small binary header that leads every message between ranks. Pure encoding and decoding, no
 * I/O: the mesh decodes it for every message it receives, and the collectives check that it is
 * the message they expect (which operation, which step, which chunk, how many values), so that a
 * foreign, stale or out-of-order message is refused with a reason instead of being summed.
 *
 * Layout, little-endian, {@link headerBytes} bytes:
 *
 * | offset | type | field |
 * |---|---|---|
 * | 0 | u32 | magic `"RBC1"` |
 * | 4 | u8 | protocol version |
 * | 5 | u8 | kind ({@link FrameKind}) |
 * | 6 | u8 | dtype (0 none, 1 float32) |
 * | 7 | u8 | reserved, 0 |
 * | 8 | u32 | source rank |
 * | 12 | u32 | operation sequence number |
 * | 16 | u32 | step of the operation |
 * | 20 | u32 | chunk index within the step |
 * | 24 | u32 | number of elements in the payload frame |
 * | 28 | u32 | total elements of the array the chunk belongs to |
 *
 * The mesh's own messages use the same 32 bytes with dtype none and no payload: a hello carries
 * the rank it is addressed to at offset 20 and the world size at offset 28; a goodbye carries the
 * number of operations its sender ran at offset 12; their other fields are 0. Decoded, each kind
 * has its own fields ({@link HelloHeader}, {@link ByeHeader}, {@link CollectiveHeader}).
 */

/** Bytes in an encoded header. */
export const headerBytes = 32;
/** `"RBC1"` read as a little-endian u32. */
const magic = 0x31434252;
/** Bumped whenever the layout or the meaning of a field changes. */
export const protocolVersion = 1;

const kinds = ["hello", "bye", "allReduce", "broadcast", "barrier", "allGather", "starAllReduce"] as const;
/** What a message belongs to: mesh control (`hello`, `bye`) or one kind of collective. */
export type FrameKind = (typeof kinds)[number];
/** The collective kinds (every kind but the mesh's own control messages). */
export type CollectiveKind = Exclude<FrameKind, "hello" | "bye">;

const dtypes = ["none", "float32"] as const;
/** Element type of the payload frame. */
export type FrameDtype = (typeof dtypes)[number];

/** The first message on a new connection: names its destination and the world size, so a crossed endpoint list is caught. */
export interface HelloHeader {
  kind: "hello";
  source: number;
  /** The rank the hello is addressed to. */
  destination: number;
  worldSize: number;
}

/** A rank's last message to a peer before it closes its mesh. */
export interface ByeHeader {
  kind: "bye";
  source: number;
  /** Collectives the sender ran on this mesh. */
  operations: number;
}

/** The header of one chunk of a collective. */
export interface CollectiveHeader {
  kind: CollectiveKind;
  dtype: FrameDtype;
  source: number;
  sequence: number;
  step: number;
  chunk: number;
  count: number;
  total: number;
}

/** A decoded header. */
export type FrameHeader = HelloHeader | ByeHeader | CollectiveHeader;

/** The six u32 fields at offsets 8..28 and the dtype of `header`, as laid out on the wire. */
function wireFields(header: FrameHeader): { dtype: FrameDtype; fields: [number, number, number, number, number, number] } {
  switch (header.kind) {
    case "hello":
      return { dtype: "none", fields: [header.source, 0, 0, header.destination, 0, header.worldSize] };
    case "bye":
      return { dtype: "none", fields: [header.source, header.operations, 0, 0, 0, 0] };
    default:
      return { dtype: header.dtype, fields: [header.source, header.sequence, header.step, header.chunk, header.count, header.total] };
  }
}

const maxU32 = 0xffff_ffff;

/** Encodes `header` into a fresh buffer. */
export function encodeHeader(header: FrameHeader): Buffer {
  const buffer = Buffer.alloc(headerBytes);
  buffer.writeUInt32LE(magic, 0);
  buffer.writeUInt8(protocolVersion, 4);
  buffer.writeUInt8(kinds.indexOf(header.kind) + 1, 5);
  const { dtype, fields } = wireFields(header);
  buffer.writeUInt8(dtypes.indexOf(dtype), 6);
  fields.forEach((value, i) => {
    if (!Number.isInteger(value) || value < 0 || value > maxU32) throw new RangeError(`header field ${i} is ${value}, not a u32`);
    buffer.writeUInt32LE(value, 8 + 4 * i);
  });
  return buffer;
}

/** Decodes a received header frame, or says why it is not one. */
export function decodeHeader(frame: Uint8Array): { ok: true; header: FrameHeader } | { ok: false; reason: string } {
  if (frame.byteLength !== headerBytes) return { ok: false, reason: `header frame has ${frame.byteLength} bytes, expected ${headerBytes}` };
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const gotMagic = view.getUint32(0, true);
  if (gotMagic !== magic) return { ok: false, reason: `bad magic 0x${gotMagic.toString(16)} (not a ringbook collectives message)` };
  const version = view.getUint8(4);
  if (version !== protocolVersion) return { ok: false, reason: `protocol version ${version}, this rank speaks ${protocolVersion}` };
  const kind = kinds[view.getUint8(5) - 1];
  if (kind === undefined) return { ok: false, reason: `unknown kind code ${view.getUint8(5)}` };
  const dtype = dtypes[view.getUint8(6)];
  if (dtype === undefined) return { ok: false, reason: `unknown dtype code ${view.getUint8(6)}` };
  if (view.getUint8(7) !== 0) return { ok: false, reason: `reserved byte is ${view.getUint8(7)}, expected 0` };
  const field = (i: number): number => view.getUint32(8 + 4 * i, true);
  const source = field(0);
  if (kind === "hello" || kind === "bye") {
    // The mesh's own messages: no payload, and only their own slots set.
    const used = kind === "hello" ? [3, 5] : [1];
    const stray = [1, 2, 3, 4, 5].find((i) => !used.includes(i) && field(i) !== 0);
    if (dtype !== "none") return { ok: false, reason: `a ${kind} has dtype ${dtype}, expected none` };
    if (stray !== undefined) return { ok: false, reason: `a ${kind} has ${field(stray)} at offset ${8 + 4 * stray}, expected 0` };
    return { ok: true, header: kind === "hello" ? { kind, source, destination: field(3), worldSize: field(5) } : { kind, source, operations: field(1) } };
  }
  return {
    ok: true,
    header: { kind, dtype, source, sequence: field(1), step: field(2), chunk: field(3), count: field(4), total: field(5) },
  };
}

/** A header as a short text for error messages. */
export function describeHeader(header: FrameHeader): string {
  if (header.kind === "hello") return `hello from rank ${header.source} to rank ${header.destination} (world ${header.worldSize})`;
  if (header.kind === "bye") return `goodbye from rank ${header.source} after ${header.operations} operation(s)`;
  return `${header.kind} #${header.sequence} from rank ${header.source} (step ${header.step}, chunk ${header.chunk}, ${header.count} of ${header.total} ${header.dtype} values)`;
}
