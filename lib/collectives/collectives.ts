/**
 * Collective operations between the ranks of a cluster over a {@link PeerMesh}: the all-reduce that
 * data-parallel training calls between computing and applying gradients, the broadcast of initial
 * weights, a barrier and an all-gather. Every rank calls the same collectives in the same order.
 */
import { RingbookError } from "../errors.js";
import type { PeerMesh } from "./peer-mesh.js";
import { arrayToFill } from "./float-frames.js";
import { hierarchicalAllReduce } from "./hierarchical-all-reduce.js";
import { hostLayoutOf, type HostLayout } from "./host-layout.js";
import { ringAllReduce } from "./ring-all-reduce.js";
import { meshBarrier, ringAllGather, ringBroadcast } from "./ring-relay.js";
import { setUpSharedMemory, sharedMemoryAllReduce, type SharedMemorySettings, type SharedMemoryState } from "./shared-memory-all-reduce.js";

/** Options of {@link Collectives}. */
export interface CollectivesOptions {
  /**
   * Most float32 values per message; must be the same on every rank. Large enough to amortise the
   * per-message cost (256 KiB chunks were ~15% slower than 1 MiB here, 2 and 4 MiB no faster),
   * small enough that summing one chunk overlaps receiving the next.
   * @default 262144 (1 MiB)
   */
  chunkElements?: number;
  /**
   * The host of every rank (`hosts[r]` for rank r; equal names mean one host), the same list on
   * every rank. With several hosts and several ranks on some host, allReduce sums within each host
   * first and runs the ring only between hosts (see hierarchical-all-reduce.ts).
   * @default every rank on one host (a plain ring)
   */
  hosts?: readonly string[];
  /**
   * Fewest chunks each ring segment is cut into (none shorter than 256 KiB), however small the
   * array: a chunk is forwarded only once it has fully arrived, so with one chunk per segment
   * every ring step waits a whole chunk's transfer plus the link's latency before it can send.
   * Over 1 Gbit/s links 4 gave a 4 MiB allReduce on 4 hosts ~15% more bus bandwidth than 1
   * (bench/multihost-allreduce.ts, interleaved); on one host (ipc) 1 MiB chunks measured best.
   * @default 1
   */
  minChunksPerSegment?: number;
  /**
   * Every rank runs on this host: allReduce of arrays of at least `minElements` values goes through
   * files in its shared memory (`directory`, a tmpfs such as /dev/shm) instead of messages, each
   * rank's named `<prefix>-r<rank>` (a prefix unique to this mesh, the same on every rank). If any
   * rank cannot create or open its files, every rank keeps to the ring, and says why in `log`.
   */
  sharedMemory?: { directory: string; prefix: string; minElements?: number; log?: (line: string) => void };
}

/**
 * Shortest array that goes through shared memory by default: below it the ring's one or two
 * messages cost about as little as the exchanges of statuses.
 */
const sharedMemoryMinElements = 16384;

/** The reduction of {@link Collectives.allReduce}. */
export type ReduceOp = "sum" | "mean";

function checkValues(values: unknown, what: string): asserts values is Float32Array {
  if (!(values instanceof Float32Array)) {
    throw new RingbookError("ERR_BAD_ARGUMENT", `${what} takes a Float32Array, got ${values === null ? "null" : typeof values === "object" ? values.constructor.name : typeof values}`);
  }
}

/** Whether two arrays share any bytes. */
function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Collectives over one mesh. Example, on every rank:
 * ```ts
 * const collectives = new Collectives(mesh);
 * const mean = await collectives.allReduce(gradients, { op: "mean" });
 * ```
 */
export class Collectives {
  readonly #mesh: PeerMesh;
  readonly #chunkElements: number;
  readonly #minChunksPerSegment: number;
  readonly #layout: HostLayout | undefined;
  readonly #sharedMemory: (SharedMemorySettings & { minElements: number }) | undefined;
  #sharedMemoryState: SharedMemoryState = { kind: "untried" };
  /** A peer's values read from shared memory: one array for every call, grown as needed. */
  #scratch: Float32Array = new Float32Array(0);

  constructor(mesh: PeerMesh, options: CollectivesOptions = {}) {
    const chunkElements = options.chunkElements ?? 262144;
    if (!Number.isInteger(chunkElements) || chunkElements < 1) throw new RingbookError("ERR_BAD_ARGUMENT", `chunkElements must be a positive integer, got ${String(chunkElements)}`);
    const minChunksPerSegment = options.minChunksPerSegment ?? 1;
    if (!Number.isInteger(minChunksPerSegment) || minChunksPerSegment < 1) throw new RingbookError("ERR_BAD_ARGUMENT", `minChunksPerSegment must be a positive integer, got ${String(minChunksPerSegment)}`);
    const hosts = options.hosts;
    if (hosts !== undefined && (!Array.isArray(hosts) || hosts.length !== mesh.worldSize || hosts.some((host) => typeof host !== "string"))) {
      throw new RingbookError("ERR_BAD_ARGUMENT", `hosts must name the host of each of the ${mesh.worldSize} ranks, got ${JSON.stringify(hosts)}`);
    }
    this.#mesh = mesh;
    this.#chunkElements = chunkElements;
    this.#minChunksPerSegment = minChunksPerSegment;
    this.#layout = hosts === undefined ? undefined : hostLayoutOf(hosts, mesh.rank);
    const shared = options.sharedMemory;
    if (shared !== undefined) {
      if (hosts !== undefined && hosts.some((host) => host !== hosts[0])) throw new RingbookError("ERR_BAD_ARGUMENT", `sharedMemory needs every rank on one host, but hosts names ${[...new Set(hosts)].join(", ")}`);
      const minElements = shared.minElements ?? sharedMemoryMinElements;
      if (!Number.isInteger(minElements) || minElements < 1) throw new RingbookError("ERR_BAD_ARGUMENT", `sharedMemory.minElements must be a positive integer, got ${String(minElements)}`);
      this.#sharedMemory = { directory: shared.directory, prefix: shared.prefix, minElements, log: shared.log ?? (() => {}) };
    }
  }

  /** Whether allReduce goes through the host's shared memory: "untried" until the first array long enough. */
  get sharedMemory(): "untried" | "ready" | "off" | "not asked" {
    return this.#sharedMemory === undefined ? "not asked" : this.#sharedMemoryState.kind;
  }

  /** Closes the shared-memory files, if any (the mesh's owner calls it when it closes the mesh). */
  close(): void {
    if (this.#sharedMemoryState.kind === "ready") this.#sharedMemoryState.memory.close();
    this.#sharedMemoryState = { kind: "off" };
  }

  /** Whether allReduce reduces within each host before the ring between hosts. */
  get hierarchical(): boolean {
    return this.#layout?.hierarchical ?? false;
  }

  /**
   * Element-wise sum (or mean) of `values` over all ranks, as a new array, or written into
   * `options.into` (an array of the same length that does not overlap `values`; it is returned,
   * and a loop can pass the same one every time instead of allocating a result per call).
   * `values` is only read, and not referred to once the promise resolves, so it may be refilled
   * then (after a failure, ZeroMQ may still hold, never change, part of it until the mesh is
   * closed). Every rank gets bit-identical results, which may differ from a rank-order sum in the
   * last bit. A ring (reduce-scatter, then all-gather) of pipelined chunks, or with `hosts` that
   * make it pay, a sum within each host around a ring between hosts; any length, including 0 and 1.
   */
  async allReduce(values: Float32Array, options: { op?: ReduceOp; signal?: AbortSignal; into?: Float32Array } = {}): Promise<Float32Array> {
    checkValues(values, "allReduce");
    const op = options.op ?? "sum";
    if (op !== "sum" && op !== "mean") throw new RingbookError("ERR_BAD_ARGUMENT", `allReduce op must be "sum" or "mean", got ${JSON.stringify(op)}`);
    const into = options.into;
    if (into !== undefined) {
      checkValues(into, "allReduce's into");
      if (into.length !== values.length) throw new RingbookError("ERR_BAD_ARGUMENT", `allReduce's into has ${into.length} values, the input ${values.length}`);
      if (overlaps(into, values)) throw new RingbookError("ERR_BAD_ARGUMENT", "allReduce's into must not overlap its input (the input is read while the result is written)");
    }
    const divisor = op === "mean" ? this.#mesh.worldSize : undefined;
    const layout = this.#layout;
    const chunking = { chunkElements: this.#chunkElements, minChunksPerSegment: this.#minChunksPerSegment };
    const settings = this.#sharedMemory;
    const shared = settings !== undefined && this.#mesh.worldSize > 1 && values.length >= settings.minElements ? settings : undefined;
    return this.#mesh.run("allReduce", options, async (operation) => {
      if (shared !== undefined) {
        if (this.#sharedMemoryState.kind === "untried") this.#sharedMemoryState = await setUpSharedMemory(operation, shared, values.length);
        const state = this.#sharedMemoryState;
        if (state.kind === "ready") {
          const reduced = await sharedMemoryAllReduce(operation, state, values, divisor, (length) => this.#scratchOf(length), into);
          if (reduced !== undefined) return reduced;
          // Every rank saw the failure (and logged why): all go on the ring from this call on.
          state.memory.close();
          this.#sharedMemoryState = { kind: "off" };
        }
      }
      return layout?.hierarchical === true
        ? hierarchicalAllReduce(operation, layout, values, divisor, chunking, into)
        : ringAllReduce(operation, values, divisor, chunking, into);
    });
  }

  #scratchOf(length: number): Float32Array {
    if (this.#scratch.length < length) this.#scratch = arrayToFill(length);
    return this.#scratch;
  }

  /** Rank `root`'s `values` on every rank, as a new array (the other ranks pass `undefined`). */
  async broadcast(values: Float32Array | undefined, root: number, options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.#mesh.worldSize) throw new RingbookError("ERR_BAD_RANK", `broadcast root must be a rank in [0, ${this.#mesh.worldSize}), got ${String(root)}`);
    if (this.#mesh.rank === root) checkValues(values, "broadcast at its root");
    return this.#mesh.run("broadcast", options, (operation) => ringBroadcast(operation, values, root, this.#chunkElements));
  }

  /** Resolves once every rank has called it. */
  async barrier(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#mesh.run("barrier", options, (operation) => meshBarrier(operation));
  }

  /** Every rank's `values` (lengths may differ): `result[r]` is rank r's array, each new. */
  async allGather(values: Float32Array, options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    checkValues(values, "allGather");
    return this.#mesh.run("allGather", options, (operation) => ringAllGather(operation, values, this.#chunkElements));
  }
}
