/**
 * The bandwidth-optimal ring all-reduce (Patarasuk & Yuan): the array is cut into `worldSize`
 * segments; in `worldSize − 1` reduce-scatter steps each rank adds its own values to the partial
 * sum it receives from its predecessor and passes it on, until each rank holds one fully reduced
 * segment; in `worldSize − 1` all-gather steps the reduced segments travel once around the ring.
 * Each rank sends and receives `2 (n − 1) / n` of the array, whatever n is.
 *
 * Segments travel as chunks, and each chunk moves on as soon as it arrives, so the steps overlap
 * (a pipeline) and summing overlaps the transfer. Copies are avoided: a received chunk is summed
 * in place in ZeroMQ's receive buffer (with WebAssembly SIMD, see simd-floats.ts) and that same
 * buffer is sent on; the caller's input is only read (its own segment is sent from its memory at
 * step 0, and every chunk of it comes back reduced before this function resolves, so nothing
 * refers to the input afterwards); the output (a fresh array, or the caller's `into`) is never
 * sent, so the caller may change it at once and reuse it for the next call.
 */
import { arrayToFill } from "./float-frames.js";
import { AsyncQueue } from "../async-queue.js";
import type { MeshOperation } from "./peer-mesh.js";
import { mod, ringChunksPerSegment, segmentSpan, splitSpan, type Span } from "./ring-layout.js";
import { addIntoFast, divideIntoFast } from "./simd-floats.js";

interface Outgoing {
  step: number;
  chunk: number;
  values: Float32Array;
}

/** How a caller joins the ring's pipeline (the host-aware all-reduce's leader), in worlds of 2 or more. */
export interface RingHooks {
  /** Gets every chunk of the result as soon as it is final, in the order of ringFinalSpans, as an array nothing changes afterwards. */
  onFinal?: (values: Float32Array) => void;
  /**
   * Resolves once the input's span `index` (in the order of ringInputSpans) holds its values; the
   * ring reads no span before. Called in increasing order, one call at a time, from the loop that
   * receives (so it may receive from other peers itself: the mesh allows one receive at a time).
   */
  inputReady?: (index: number) => Promise<void>;
}

/**
 * Sum of `input` over all ranks (divided by `divisor` when given: the world size for a mean, which
 * is more than this ring's size when the ring joins hosts' leaders), into `into` (same length, not
 * overlapping `input`) or a new array. Reusing `into` saves a large allocation per call: in a training loop, fresh arrays
 * of a megabyte per step kept V8's external memory high enough to trigger full collections.
 */
export async function ringAllReduce(
  operation: MeshOperation,
  input: Float32Array,
  divisor: number | undefined,
  chunking: { chunkElements: number; minChunksPerSegment: number },
  into?: Float32Array,
  hooks: RingHooks = {},
): Promise<Float32Array> {
  const { onFinal, inputReady } = hooks;
  const { rank, worldSize } = operation;
  const length = input.length;
  // Every element is written below (each segment once: the own one at the end of the
  // reduce-scatter, the others during the all-gather) before the array is returned.
  const output = into ?? arrayToFill(length);
  if (worldSize === 1) {
    output.set(input);
    if (divisor !== undefined) divideIntoFast(output, divisor);
    return output;
  }
  const next = mod(rank + 1, worldSize);
  const previous = mod(rank - 1, worldSize);
  const chunks = ringChunksPerSegment(length, worldSize, chunking.chunkElements, chunking.minChunksPerSegment);
  const steps = 2 * (worldSize - 1);
  // At step s a rank sends segment (rank − s) and receives segment (rank − s − 1).
  const spanAt = (segment: number, chunk: number): Span => splitSpan(segmentSpan(length, worldSize, mod(segment, worldSize)), chunks, chunk);

  // Unbounded, yet bounded by the operation's size: the receive loop must never wait for the
  // send loop, or a ring whose every rank waits to receive until its sends drained could deadlock.
  const outbox = new AsyncQueue<Outgoing>();
  const sending = (async () => {
    for (let sent = 0; sent < steps * chunks; sent++) {
      const item = await outbox.take();
      if (item === undefined) return;
      await operation.send(next, { step: item.step, chunk: item.chunk, total: length }, item.values);
    }
  })();
  const receiving = (async () => {
    for (let chunk = 0; chunk < chunks; chunk++) {
      if (inputReady !== undefined) await inputReady(chunk);
      const span = spanAt(rank, chunk);
      outbox.push({ step: 0, chunk, values: input.subarray(span.start, span.end) });
    }
    for (let step = 0; step < steps; step++) {
      for (let chunk = 0; chunk < chunks; chunk++) {
        const span = spanAt(rank - step - 1, chunk);
        const { values } = await operation.receive(previous, { step, chunk, count: span.end - span.start, total: length });
        if (step < worldSize - 1) {
          if (inputReady !== undefined) await inputReady((step + 1) * chunks + chunk);
          const own = input.subarray(span.start, span.end);
          if (step < worldSize - 2) {
            addIntoFast(values, own);
          } else if (divisor !== undefined) {
            // This rank's fully reduced segment: divided here, once, so every rank gets the same bits.
            addIntoFast(values, own);
            divideIntoFast(values, divisor);
            output.set(values, span.start);
          } else {
            // The sum is forwarded (from `values`) and kept (in `output`), written by one pass.
            addIntoFast(values, own, output.subarray(span.start, span.end));
          }
        } else {
          output.set(values, span.start);
        }
        if (step >= worldSize - 2) onFinal?.(values);
        if (step + 1 < steps) outbox.push({ step: step + 1, chunk, values });
      }
    }
    outbox.close();
  })().catch((error: unknown) => {
    outbox.fail(error instanceof Error ? error : new Error(String(error)));
    throw error;
  });
  operation.own(sending);
  operation.own(receiving);
  await Promise.all([sending, receiving]);
  return output;
}
