/**
 * All-reduce for worlds with several ranks per host (NCCL's and Horovod's hierarchical scheme):
 * every rank sends its array to its host's leader, which sums them (over ipc, a dozen times faster
 * here than the 1 Gbit/s links between hosts); the leaders run the ring all-reduce among
 * themselves, so each host's link carries `2 (h − 1) / h` of the array once instead of once per
 * rank; each leader sends every chunk of the result on to its host's ranks as soon as the ring
 * has finished it (the chunk's own received buffer, which nothing changes afterwards). Every phase
 * moves chunks of at most `chunkElements`, each summed or forwarded as it arrives.
 *
 * Messages of the three phases never get confused: the local ones go between a leader and its own
 * ranks (step 0 up, step 1 down), the ring's only between leaders.
 */
import { AsyncQueue } from "../async-queue.js";
import { arrayToFill } from "./float-frames.js";
import type { HostLayout } from "./host-layout.js";
import type { MeshOperation } from "./peer-mesh.js";
import { ringChunksPerSegment, ringFinalSpans, ringInputSpans } from "./ring-layout.js";
import { ringAllReduce } from "./ring-all-reduce.js";
import { addIntoFast } from "./simd-floats.js";

const upStep = 0;
const downStep = 1;

/** The leaders of `layout` as a ring of their own: rank i of it is leader i, messages go to the real ranks. */
function leaderRing(operation: MeshOperation, layout: HostLayout): MeshOperation {
  const { leaders } = layout;
  return {
    kind: operation.kind,
    sequence: operation.sequence,
    rank: layout.ownIndex,
    worldSize: leaders.length,
    send: (to, fields, values) => operation.send(leaders[to]!, fields, values),
    receive: (from, expected) => operation.receive(leaders[from]!, expected),
    own: (task) => operation.own(task),
  };
}

/**
 * Sum (or mean, `divisor` = the world size) of `input` over all ranks, into `into` or a new array.
 * The sum up to the leader runs alongside the ring too: the ranks send their chunks in the order
 * the leader's ring first reads them, and the ring waits for each chunk of the host's sum only
 * when it gets to it.
 *
 * Every rank gets the same bits (the leaders' ring gives its leaders the same bits, and the other
 * ranks get copies); the sum's order differs from a rank-order sum, so it may differ from one in
 * the last bits. `input` is only read, and not referred to once the promise resolves.
 */
export async function hierarchicalAllReduce(operation: MeshOperation, layout: HostLayout, input: Float32Array, divisor: number | undefined, chunking: { chunkElements: number; minChunksPerSegment: number }, into?: Float32Array): Promise<Float32Array> {
  const length = input.length;
  const output = into ?? arrayToFill(length);
  const leader = layout.own.ranks[0]!;
  const total = length;
  // Chunks travel up in the order the leader's ring reads its input, and down in the order it finishes the result.
  const ringChunks = ringChunksPerSegment(length, layout.leaders.length, chunking.chunkElements, chunking.minChunksPerSegment);
  const upSpans = ringInputSpans(length, layout.leaders.length, layout.ownIndex, ringChunks);
  const downSpans = ringFinalSpans(length, layout.leaders.length, layout.ownIndex, ringChunks);

  if (operation.rank !== leader) {
    // The leader's last chunk down needs every chunk of the host's sum, so once this rank has it,
    // the leader has read all of this input: sending from the caller's memory is safe.
    const sending = (async () => {
      for (const [chunk, span] of upSpans.entries()) await operation.send(leader, { step: upStep, chunk, total }, input.subarray(span.start, span.end));
    })();
    operation.own(sending);
    for (const [chunk, span] of downSpans.entries()) {
      const { values } = await operation.receive(leader, { step: downStep, chunk, count: span.end - span.start, total });
      output.set(values, span.start);
    }
    await sending;
    return output;
  }

  const members = layout.own.ranks.slice(1);
  if (members.length === 0) return ringAllReduce(leaderRing(operation, layout), input, divisor, chunking, output);
  // The host's sum: the ring's input, so not the caller's array; own values first, then the members' in rank order.
  const hostSum = arrayToFill(length);
  // Sums the members' chunks into the host's sum as far as the ring asks (in order, from its receive loop).
  let summedThrough = 0;
  const sumThrough = async (index: number): Promise<void> => {
    for (; summedThrough <= index; summedThrough++) {
      const span = upSpans[summedThrough]!;
      const count = span.end - span.start;
      const target = hostSum.subarray(span.start, span.end);
      for (const [i, member] of members.entries()) {
        const { values } = await operation.receive(member, { step: upStep, chunk: summedThrough, count, total });
        if (i === 0) addIntoFast(values, input.subarray(span.start, span.end), target);
        else addIntoFast(target, values);
      }
    }
  };
  // One unbounded outbox per rank of the host (bounded by the operation's size), so that the
  // ring's receive loop never waits for a send down.
  const outboxes = members.map(() => new AsyncQueue<Float32Array>());
  const sends = members.map(async (member, i) => {
    for (let chunk = 0; ; chunk++) {
      const values = await outboxes[i]!.take();
      if (values === undefined) return;
      await operation.send(member, { step: downStep, chunk, total }, values);
    }
  });
  for (const send of sends) operation.own(send);
  try {
    await ringAllReduce(leaderRing(operation, layout), hostSum, divisor, chunking, output, {
      inputReady: sumThrough,
      onFinal: (values) => {
        for (const outbox of outboxes) outbox.push(values);
      },
    });
    for (const outbox of outboxes) outbox.close();
  } catch (error) {
    for (const outbox of outboxes) outbox.fail(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  await Promise.all(sends);
  return output;
}
