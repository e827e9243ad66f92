/**
 * A narrow-seam fake of the cluster's all-reduce for tests that run several ranks in one process:
 * each rank's call resolves once all ranks have called, with the sum taken in rank order.
 */
export class InProcessAllReduce {
  readonly #worldSize: number;
  #pending: Array<{ rank: number; values: Float32Array; into: Float32Array | undefined; resolve: (sum: Float32Array) => void }> = [];

  constructor(worldSize: number) {
    this.#worldSize = worldSize;
  }

  /** The all-reduce function as rank `rank` sees it (writing into `into` when given, as the cluster's does). */
  forRank(rank: number): (values: Float32Array, into?: Float32Array) => Promise<Float32Array> {
    return (values, into) =>
      new Promise((resolve) => {
        this.#pending.push({ rank, values, into, resolve });
        if (this.#pending.length < this.#worldSize) return;
        const contributions = this.#pending.sort((a, b) => a.rank - b.rank);
        this.#pending = [];
        const sum = new Float32Array(values.length);
        for (const { values: part } of contributions) for (let i = 0; i < sum.length; i++) sum[i]! += part[i]!;
        for (const { into: target, resolve: done } of contributions) {
          if (target === undefined) {
            done(sum.slice());
          } else {
            target.set(sum);
            done(target);
          }
        }
      });
  }
}

/** The same seam for broadcast: every rank resolves with `root`'s array once all ranks called. */
export class InProcessBroadcast {
  readonly #worldSize: number;
  #waiting: Array<(values: Float32Array) => void> = [];
  #rootValues: Float32Array | undefined;

  constructor(worldSize: number) {
    this.#worldSize = worldSize;
  }

  broadcast(values: Float32Array | undefined): Promise<Float32Array> {
    return new Promise((resolve) => {
      if (values !== undefined) this.#rootValues = values;
      this.#waiting.push(resolve);
      if (this.#waiting.length < this.#worldSize) return;
      const root = this.#rootValues!;
      for (const done of this.#waiting) done(root.slice());
      this.#waiting = [];
      this.#rootValues = undefined;
    });
  }
}
