/**
 * Frees received message buffers with minor garbage collections. zeromq.js hands every received
 * frame over 128 bytes as a Buffer over ZeroMQ's own memory and reports its size to V8 as external
 * memory, given back when the Buffer is collected. A rank that receives gradients allocates
 * almost nothing else, so V8 runs no scavenge for a long time, and the external memory that
 * piles up forces a full (mark-compact) collection every few dozen MiB received. A scavenge frees
 * those Buffers as well, far more cheaply: one every {@link collectEveryBytes} received bytes keeps
 * the external memory under V8's limit (README, "Speed on the test bed").
 *
 * Cluster workers have zeromq.js copy what they receive (transport/copied-receives.ts), so there the
 * frames are V8's own Buffers, not reported external memory; a scavenge frees them early all the same.
 *
 * The collection function comes from a context of its own (`gc` is exposed to new contexts only),
 * so task code never sees a global `gc`.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Received bytes between two minor collections: well under V8's 64 MiB external-memory step. */
export const collectEveryBytes = 16 * 1024 * 1024;

type MinorCollection = () => void;

let minorCollection: MinorCollection | null | undefined;

function loadMinorCollection(): MinorCollection | null {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    if (typeof gc !== "function") return null;
    return () => {
      gc({ type: "minor" });
    };
  } catch {
    // Without it the buffers are still freed, by the full collections described above.
    return null;
  }
}

/** Counts the bytes one receiving socket delivered and runs a minor collection every {@link collectEveryBytes}. */
export class ReceivedBufferCollector {
  #sinceCollection = 0;
  readonly #everyBytes: number;

  constructor(everyBytes = collectEveryBytes) {
    this.#everyBytes = everyBytes;
  }

  /** Records `bytes` just received; collects when enough has arrived since the last collection. */
  received(bytes: number): void {
    this.#sinceCollection += bytes;
    if (this.#sinceCollection < this.#everyBytes) return;
    this.#sinceCollection = 0;
    minorCollection ??= loadMinorCollection();
    minorCollection?.();
  }
}
