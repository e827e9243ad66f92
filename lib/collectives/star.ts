/**
 * The simple, obviously correct all-reduce kept as the test oracle for the ring: every rank sends
 * its whole array to rank 0, which adds them in rank order and sends the sum back. It moves
 * `worldSize` times more data through rank 0 than the ring does; use it only to check the ring.
 */
import { RingbookError } from "../errors.js";
import { addInto, divideInto } from "./float-frames.js";
import type { PeerMesh } from "./peer-mesh.js";

/** Sum (or mean) over all ranks, gathered to rank 0 and summed there in rank order. */
export function starAllReduce(mesh: PeerMesh, values: Float32Array, op: "sum" | "mean" = "sum"): Promise<Float32Array> {
  if (!(values instanceof Float32Array)) return Promise.reject(new RingbookError("ERR_BAD_ARGUMENT", "starAllReduce takes a Float32Array"));
  return mesh.run("starAllReduce", {}, async (operation) => {
    const { rank, worldSize } = operation;
    const total = values.length;
    if (rank !== 0) {
      // Rank 0 answers only after it has received (and read) these values, so sending from the caller's memory is safe.
      await operation.send(0, { step: 0, chunk: 0, total }, values);
      const { values: sum } = await operation.receive(0, { step: 1, chunk: 0, count: total, total });
      return sum;
    }
    const sum = values.slice();
    for (let peer = 1; peer < worldSize; peer++) {
      const { values: part } = await operation.receive(peer, { step: 0, chunk: 0, count: total, total });
      addInto(sum, part);
    }
    if (op === "mean") divideInto(sum, worldSize);
    // `sum` is sent from its memory; the caller gets a copy it may change at once.
    for (let peer = 1; peer < worldSize; peer++) await operation.send(peer, { step: 1, chunk: 0, total }, sum);
    return sum.slice();
  });
}
