/**
 * Collectives that move whole arrays around the ring without reducing them: broadcast (a chunked
 * pipeline from the root) and all-gather (every rank's block travels `worldSize − 1` hops), plus
 * the barrier. Received chunks are forwarded as they arrive, from the receive buffer itself; what
 * a rank sends of the caller's array is sent from a private copy, since nothing tells the sender
 * when the last hop has read it.
 */
import { RingbookError } from "../errors.js";
import { arrayToFill } from "./float-frames.js";
import { AsyncQueue } from "../async-queue.js";
import type { MeshOperation } from "./peer-mesh.js";
import { blockChunks, mod, splitSpan } from "./ring-layout.js";

interface Outgoing {
  step: number;
  chunk: number;
  total: number;
  values: Float32Array;
}

const noValues = new Float32Array(0);

/**
 * Sends each item of `outbox` to `to`, in order, until the outbox ends. The outbox is unbounded
 * (it holds at most one operation's chunks) so that receiving never waits for sending.
 */
async function drain(operation: MeshOperation, to: number, outbox: AsyncQueue<Outgoing>): Promise<void> {
  for (;;) {
    const item = await outbox.take();
    if (item === undefined) return;
    await operation.send(to, { step: item.step, chunk: item.chunk, total: item.total }, item.values);
  }
}

/** Queues `values` as the chunks of one block. */
function queueBlock(outbox: AsyncQueue<Outgoing>, step: number, values: Float32Array, chunkElements: number): void {
  const chunks = blockChunks(values.length, chunkElements);
  for (let chunk = 0; chunk < chunks; chunk++) {
    const span = splitSpan({ start: 0, end: values.length }, chunks, chunk);
    outbox.push({ step, chunk, total: values.length, values: values.subarray(span.start, span.end) });
  }
}

/** Receives one block from `from` at `step`, handing each chunk to `forward` as it arrives. */
async function receiveBlock(operation: MeshOperation, from: number, step: number, chunkElements: number, forward: ((item: Outgoing) => void) | undefined): Promise<Float32Array> {
  const first = await operation.receive(from, { step, chunk: 0 });
  const total = first.header.total;
  const chunks = blockChunks(total, chunkElements);
  const firstSpan = splitSpan({ start: 0, end: total }, chunks, 0);
  if (first.values.length !== firstSpan.end - firstSpan.start) {
    throw new RingbookError("ERR_COLLECTIVE_MISMATCH", `rank ${operation.rank} in ${operation.kind} #${operation.sequence}: the first chunk of a ${total}-value block from rank ${from} has ${first.values.length} values, expected ${firstSpan.end - firstSpan.start} (do the ranks use the same chunk size?)`);
  }
  const block = arrayToFill(total); // the chunks tile it
  let values = first.values;
  for (let chunk = 0; ; ) {
    block.set(values, splitSpan({ start: 0, end: total }, chunks, chunk).start);
    forward?.({ step: step + 1, chunk, total, values });
    if (++chunk === chunks) return block;
    const span = splitSpan({ start: 0, end: total }, chunks, chunk);
    ({ values } = await operation.receive(from, { step, chunk, count: span.end - span.start, total }));
  }
}

/** Runs a send loop to the next rank and `receive` concurrently; the send loop ends when `receive` does. */
async function relay<T>(operation: MeshOperation, outbox: AsyncQueue<Outgoing>, sends: boolean, receive: () => Promise<T>): Promise<T> {
  const next = mod(operation.rank + 1, operation.worldSize);
  const sending = sends ? drain(operation, next, outbox) : Promise.resolve();
  const receiving = receive().then(
    (value) => {
      outbox.close();
      return value;
    },
    (error: unknown) => {
      outbox.fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    },
  );
  operation.own(sending);
  operation.own(receiving);
  const [, value] = await Promise.all([sending, receiving]);
  return value;
}

/** `root`'s array on every rank, as a new array. The header's step carries the root, so ranks that disagree on it fail. */
export async function ringBroadcast(operation: MeshOperation, values: Float32Array | undefined, root: number, chunkElements: number): Promise<Float32Array> {
  const { rank, worldSize } = operation;
  const outbox = new AsyncQueue<Outgoing>();
  if (rank === root) {
    if (values === undefined) throw new RingbookError("ERR_BAD_ARGUMENT", `rank ${rank} is the root of broadcast #${operation.sequence} but passed no values`);
    if (worldSize > 1) queueBlock(outbox, root, values.slice(), chunkElements);
    return relay(operation, outbox, worldSize > 1, async () => values.slice());
  }
  const forwards = mod(rank + 1, worldSize) !== root;
  return relay(operation, outbox, forwards, () =>
    receiveBlock(operation, mod(rank - 1, worldSize), root, chunkElements, forwards ? (item) => outbox.push({ ...item, step: root }) : undefined),
  );
}

/** Every rank's array (lengths may differ), indexed by rank, as new arrays. */
export async function ringAllGather(operation: MeshOperation, values: Float32Array, chunkElements: number): Promise<Float32Array[]> {
  const { rank, worldSize } = operation;
  const result: Float32Array[] = new Array<Float32Array>(worldSize);
  result[rank] = values.slice();
  if (worldSize === 1) return result;
  const outbox = new AsyncQueue<Outgoing>();
  queueBlock(outbox, 0, values.slice(), chunkElements);
  return relay(operation, outbox, true, async () => {
    // At step s a rank sends block (rank − s) and receives block (rank − s − 1).
    for (let step = 0; step < worldSize - 1; step++) {
      const forward = step < worldSize - 2 ? (item: Outgoing) => outbox.push(item) : undefined;
      result[mod(rank - step - 1, worldSize)] = await receiveBlock(operation, mod(rank - 1, worldSize), step, chunkElements, forward);
    }
    return result;
  });
}

/** Resolves once every rank has entered: one message to and from every peer. */
export async function meshBarrier(operation: MeshOperation): Promise<void> {
  const { rank, worldSize } = operation;
  const peers = Array.from({ length: worldSize }, (_, r) => r).filter((r) => r !== rank);
  const sends = peers.map((peer) => operation.send(peer, { step: 0, chunk: 0, total: 0 }, noValues));
  for (const send of sends) operation.own(send);
  await Promise.all(sends);
  for (const peer of peers) await operation.receive(peer, { step: 0, chunk: 0, count: 0, total: 0 });
}
