import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addInto, floatsOf } from "../../lib/collectives/float-frames.js";
import { decodeHeader, encodeHeader, headerBytes, type CollectiveHeader, type FrameHeader } from "../../lib/collectives/frame-header.js";
import { matchExpected, parsePeerMessage } from "../../lib/collectives/mesh-messages.js";
import { blockChunks, ringChunksPerSegment, ringFinalSpans, ringInputSpans, segmentSpan, splitSpan } from "../../lib/collectives/ring-layout.js";

const header: CollectiveHeader = { kind: "allReduce", dtype: "float32", source: 3, sequence: 70000, step: 5, chunk: 2, count: 1000, total: 4_000_000 };

describe("frame header", () => {
  test("decodes what it encodes", () => {
    const frame = encodeHeader(header);
    assert.equal(frame.length, headerBytes);
    assert.deepEqual(decodeHeader(frame), { ok: true, header });
  });

  test("refuses a wrong length, magic, version, kind, dtype or reserved byte with a reason", () => {
    const cases: Array<[string, (frame: Buffer) => Buffer, RegExp]> = [
      ["short", (f) => f.subarray(0, 31), /31 bytes, expected 32/],
      ["magic", (f) => (f.writeUInt32LE(0x12345678, 0), f), /bad magic 0x12345678/],
      ["version", (f) => (f.writeUInt8(9, 4), f), /protocol version 9/],
      ["kind", (f) => (f.writeUInt8(200, 5), f), /unknown kind code 200/],
      ["dtype", (f) => (f.writeUInt8(7, 6), f), /unknown dtype code 7/],
      ["reserved", (f) => (f.writeUInt8(1, 7), f), /reserved byte is 1/],
    ];
    for (const [name, spoil, reason] of cases) {
      const decoded = decodeHeader(spoil(encodeHeader(header)));
      assert.equal(decoded.ok, false, name);
      if (!decoded.ok) assert.match(decoded.reason, reason, name);
    }
  });

  test("a hello and a goodbye have their own fields, in the same 32 bytes without a payload", () => {
    const hello: FrameHeader = { kind: "hello", source: 1, destination: 2, worldSize: 4 };
    const bye: FrameHeader = { kind: "bye", source: 3, operations: 17 };
    for (const control of [hello, bye]) assert.deepEqual(decodeHeader(encodeHeader(control)), { ok: true, header: control });
    const helloFrame = encodeHeader(hello);
    assert.equal(helloFrame.readUInt8(6), 0, "dtype none");
    assert.deepEqual([20, 28].map((offset) => helloFrame.readUInt32LE(offset)), [2, 4], "destination and world size where a chunk's index and total are");
    assert.equal(encodeHeader(bye).readUInt32LE(12), 17, "operations where a chunk's sequence is");
    const stray = encodeHeader(hello);
    stray.writeUInt32LE(5, 24);
    const decoded = decodeHeader(stray);
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.match(decoded.reason, /a hello has 5 at offset 24, expected 0/);
  });

  test("refuses to encode a field that is not a u32", () => {
    assert.throws(() => encodeHeader({ ...header, count: -1 }), RangeError);
    assert.throws(() => encodeHeader({ ...header, total: 2 ** 32 }), RangeError);
  });
});

describe("ring layout", () => {
  test("segments and chunks tile the array exactly, for lengths not divisible by the world size", () => {
    for (const worldSize of [1, 2, 3, 4, 7]) {
      for (const length of [0, 1, 2, 5, 17, 1000, 65537]) {
        for (const chunkElements of [1, 3, 1024]) {
          const chunks = ringChunksPerSegment(length, worldSize, chunkElements);
          let next = 0;
          for (let segment = 0; segment < worldSize; segment++) {
            const span = segmentSpan(length, worldSize, segment);
            for (let chunk = 0; chunk < chunks; chunk++) {
              const piece = splitSpan(span, chunks, chunk);
              assert.equal(piece.start, next);
              assert.ok(piece.end - piece.start <= chunkElements, `chunk of ${piece.end - piece.start} > ${chunkElements}`);
              next = piece.end;
            }
          }
          assert.equal(next, length, `world ${worldSize}, length ${length}, chunk ${chunkElements}`);
        }
      }
    }
  });

  test("minChunks cuts segments into more chunks, none shorter than 256 KiB", () => {
    assert.equal(ringChunksPerSegment(4 * 262_144, 4, 262_144, 4), 4, "4 MiB on 4 ranks: 1 MiB segments in 256 KiB chunks");
    assert.equal(ringChunksPerSegment(4 * 262_144, 4, 262_144, 1), 1);
    assert.equal(ringChunksPerSegment(2 * 65_536, 1, 262_144, 4), 2, "a 512 KiB segment: two 256 KiB chunks");
    assert.equal(ringChunksPerSegment(4 * 65_536, 4, 262_144, 4), 1, "1 MiB on 4 ranks: one 256 KiB chunk per segment");
    assert.equal(ringChunksPerSegment(1000, 4, 262_144, 4), 1, "tiny arrays keep one chunk");
    assert.equal(ringChunksPerSegment(64 * 262_144, 4, 262_144, 4), 16, "large arrays are cut by size alone");
  });

  test("a ring's final spans and input spans tile the array once, starting with the segment the rank reduces (rank + 1) and its own", () => {
    for (const worldSize of [2, 3, 4]) {
      for (const length of [0, 1, 5, 1001]) {
        for (const rank of Array.from({ length: worldSize }, (_, r) => r)) {
          const chunks = ringChunksPerSegment(length, worldSize, 7);
          const spans = ringFinalSpans(length, worldSize, rank, chunks);
          assert.equal(spans.length, worldSize * chunks);
          assert.deepEqual(spans[0], splitSpan(segmentSpan(length, worldSize, (rank + 1) % worldSize), chunks, 0), "the segment it reduces is finished first");
          const inputs = ringInputSpans(length, worldSize, rank, chunks);
          assert.deepEqual(inputs[0], splitSpan(segmentSpan(length, worldSize, rank), chunks, 0), "its own segment is read first");
          for (const tiling of [spans, inputs]) {
            const covered = new Array<number>(length).fill(0);
            for (const span of tiling) for (let i = span.start; i < span.end; i++) covered[i]!++;
            assert.ok(covered.every((count) => count === 1), `world ${worldSize}, length ${length}, rank ${rank}`);
          }
        }
      }
    }
  });

  test("a relayed block has at least one chunk, even when empty", () => {
    assert.equal(blockChunks(0, 10), 1);
    assert.equal(blockChunks(10, 10), 1);
    assert.equal(blockChunks(11, 10), 2);
  });
});

describe("float frames", () => {
  test("an unaligned received frame is copied to an aligned array; an aligned one is viewed in place", () => {
    const backing = Buffer.alloc(4 * 5 + 1);
    const unaligned = backing.subarray(1);
    new DataView(unaligned.buffer, unaligned.byteOffset).setFloat32(4, 2.5, true);
    const copied = floatsOf(unaligned);
    assert.equal(copied.length, 5);
    assert.equal(copied[1], 2.5);
    assert.notEqual(copied.buffer, backing.buffer);
    const aligned = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    assert.equal(floatsOf(aligned).buffer, aligned.buffer);
  });

  test("the unrolled sum adds every element, tails included", () => {
    for (const length of [0, 1, 7, 8, 9, 23]) {
      const target = Float32Array.from({ length }, (_, i) => i);
      addInto(target, Float32Array.from({ length }, (_, i) => 100 * i));
      assert.deepEqual([...target], Array.from({ length }, (_, i) => 101 * i));
    }
  });
});

describe("peer messages", () => {
  const frames = (identity: string, h: FrameHeader, payloadBytes: number): Buffer[] => [Buffer.from(identity), encodeHeader(h), Buffer.alloc(payloadBytes)];
  const fromOne: FrameHeader = { ...header, source: 1, count: 3 };

  test("a message is accepted only from a peer's connection, with a header that names it and a payload of the announced size", () => {
    assert.deepEqual(parsePeerMessage(frames("rank-1", fromOne, 12), 0, 4), { ok: true, message: { from: 1, header: fromOne, payload: Buffer.alloc(12) } });
    const refusals: Array<[Buffer[], RegExp]> = [
      [frames("intruder", fromOne, 12), /not one of this rank's peers \(world of 4\)/],
      [frames("rank-0", { ...fromOne, source: 0 }, 12), /not one of this rank's peers/],
      [frames("rank-4", { ...fromOne, source: 4 }, 12), /not one of this rank's peers/],
      [frames("rank-2", fromOne, 12), /the header says it is from rank 1/],
      [frames("rank-1", fromOne, 11), /payload of 11 bytes for allReduce #70000 from rank 1/],
      [[...frames("rank-1", fromOne, 12), Buffer.alloc(1)], /3 frames, expected 2/],
    ];
    for (const [message, reason] of refusals) {
      const parsed = parsePeerMessage(message, 0, 4);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    }
  });

  test("a mismatch names what was expected, what came and the likely cause", () => {
    const expected = { kind: "allReduce", sequence: 70000, step: 5, chunk: 2, count: 1000, total: 4_000_000 } as const;
    const reason = (received: FrameHeader): string => {
      const match = matchExpected(received, expected, 3);
      return match.ok ? "" : match.reason;
    };
    assert.deepEqual(matchExpected(header, expected, 3), { ok: true, header });
    assert.match(reason({ ...header, sequence: 70001 }), /^expected allReduce #70000 step 5 chunk 2 with 1000 values of 4000000 from rank 3, got allReduce #70001 from rank 3 .*same order$/);
    assert.match(reason({ ...header, chunk: 3 }), /out of order/);
    assert.match(reason({ ...header, total: 5 }), /different lengths/);
    assert.match(reason({ kind: "hello", source: 3, destination: 0, worldSize: 4 }), /got hello from rank 3 to rank 0 \(world 4\): .*same order$/);
  });
});
