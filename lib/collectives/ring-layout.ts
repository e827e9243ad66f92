/**
 * How arrays are cut into the pieces that travel around the ring. Pure arithmetic, shared by every
 * rank: two ranks that cut differently would disagree on message sizes, which the headers catch.
 */

/** A half-open range of element indices, `[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

/** The `index`-th of `parts` near-equal pieces of `span` (earlier pieces are never longer). */
export function splitSpan(span: Span, parts: number, index: number): Span {
  const length = span.end - span.start;
  return { start: span.start + Math.floor((index * length) / parts), end: span.start + Math.floor(((index + 1) * length) / parts) };
}

/** Segment `segment` of an array of `length` elements cut into `worldSize` segments (some empty when length < worldSize). */
export function segmentSpan(length: number, worldSize: number, segment: number): Span {
  return splitSpan({ start: 0, end: length }, worldSize, segment);
}

/**
 * Chunks made smaller than `chunkElements` to reach `minChunks` per segment stop at this size
 * (256 KiB): over tcp, smaller chunks cost more in per-message work than they gain in overlap
 * (bench/multihost-allreduce.ts, 1 MiB on 4 hosts).
 */
export const smallestSplitChunkElements = 65536;

/**
 * Chunks per segment for a ring all-reduce: every segment is sent as the same number of chunks
 * (so every step has the same number of messages), enough that none exceeds `chunkElements`, and
 * at least `minChunks` while chunks stay at least {@link smallestSplitChunkElements} long.
 */
export function ringChunksPerSegment(length: number, worldSize: number, chunkElements: number, minChunks = 1): number {
  const longestSegment = Math.ceil(length / worldSize);
  const bySize = Math.ceil(longestSegment / chunkElements);
  return Math.max(1, bySize, Math.min(minChunks, Math.floor(longestSegment / smallestSplitChunkElements)));
}

/**
 * The spans of a ring all-reduce's result in the order rank `rank` (of `worldSize` >= 2) finishes
 * them: the chunks of the segment it reduces (`rank + 1`) at the last reduce-scatter step, then
 * one segment per all-gather step. They tile the array.
 */
export function ringFinalSpans(length: number, worldSize: number, rank: number, chunks: number): Span[] {
  const spans: Span[] = [];
  for (let step = worldSize - 2; step < 2 * (worldSize - 1); step++) {
    const segment = segmentSpan(length, worldSize, mod(rank - step - 1, worldSize));
    for (let chunk = 0; chunk < chunks; chunk++) spans.push(splitSpan(segment, chunks, chunk));
  }
  return spans;
}

/**
 * The spans of a ring all-reduce's input in the order rank `rank` (of `worldSize` >= 2) first
 * needs them: its own segment's chunks (sent at step 0), then the segment it adds at each
 * reduce-scatter step (`rank − s − 1` at step s). They tile the array.
 */
export function ringInputSpans(length: number, worldSize: number, rank: number, chunks: number): Span[] {
  const spans: Span[] = [];
  for (let offset = 0; offset < worldSize; offset++) {
    const segment = segmentSpan(length, worldSize, mod(rank - offset, worldSize));
    for (let chunk = 0; chunk < chunks; chunk++) spans.push(splitSpan(segment, chunks, chunk));
  }
  return spans;
}

/** Messages for a block of `total` elements relayed whole (broadcast, all-gather): at least one, even for an empty block. */
export function blockChunks(total: number, chunkElements: number): number {
  return Math.max(1, Math.ceil(total / chunkElements));
}

/** `(value mod modulus)` in `[0, modulus)`. */
export function mod(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}
