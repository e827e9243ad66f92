/**
 * The all-reduce of ranks that all run on one host, through files in its shared memory
 * (host-shared-memory.ts) instead of ZeroMQ messages: the data crosses as memory copies, and the
 * ranks exchange only a one-value status message per peer to say "written". On this machine's two
 * cores a 1 MiB ring all-reduce between two processes spent most of a training step's
 * communication waiting for the peer's I/O thread to drain half-megabyte messages through the
 * socket; here the wait is one tiny message.
 *
 * Two ranks: each writes its input into one of two slots of its file (alternating per call), and
 * after one exchange of statuses each reads the other's input into its output and adds its own
 * (a + b is b + a in floating point too, so both get the same bits). The alternating slots make
 * that one exchange enough: a rank writes a slot again only after the other rank's status of the
 * call in between, which it sends once it has read that slot.
 *
 * More ranks: a reduce-scatter and an all-gather through the files. Each rank writes its input;
 * after the first exchange it sums its own segment of every rank's input in rank order and writes
 * the sum to its file; after the second exchange it reads every other segment's sum. Each value is
 * summed by one rank, so every rank gets the same bits.
 *
 * Any rank whose file call fails (a full tmpfs: ENOSPC) says so in its status; every rank then sees
 * the same statuses, stops using shared memory, and runs this call on the ring instead.
 */
import { RingbookError } from "../errors.js";
import { arrayToFill } from "./float-frames.js";
import { HostSharedMemory, sharedMemoryFailure } from "./host-shared-memory.js";
import type { MeshOperation } from "./peer-mesh.js";
import { segmentSpan } from "./ring-layout.js";
import { addIntoFast, divideIntoFast } from "./simd-floats.js";

/** The header step of each exchange (distinct, so that a rank one exchange ahead is refused, not misread). */
const setupCreatedStep = 1_000_001;
const setupOpenedStep = 1_000_002;
const writtenStep = 1_000_003;
const reducedStep = 1_000_004;

/** Shared memory's state in one set of collectives: not tried yet, in use, or off. */
export type SharedMemoryState = { kind: "untried" } | { kind: "ready"; memory: HostSharedMemory; calls: number; log: (line: string) => void } | { kind: "off" };

/** Where the files go and what to do on the way. */
export interface SharedMemorySettings {
  directory: string;
  /** The file names' prefix, the same on every rank and unique to this mesh (cluster and generation). */
  prefix: string;
  log: (line: string) => void;
}

/**
 * Sends `ok` (1 or 0) to every peer and receives theirs; true when every rank's was 1. Every rank
 * sees the same statuses, so every rank takes the same branch afterwards.
 */
async function everyRankOk(operation: MeshOperation, step: number, ok: boolean, total: number): Promise<boolean> {
  const { rank, worldSize } = operation;
  const status = new Float32Array([ok ? 1 : 0]);
  const peers = Array.from({ length: worldSize }, (_, r) => r).filter((r) => r !== rank);
  const sends = peers.map((peer) => operation.send(peer, { step, chunk: 0, total }, status));
  for (const send of sends) operation.own(send);
  let all = ok;
  for (const peer of peers) {
    const { values } = await operation.receive(peer, { step, chunk: 0, count: 1, total });
    if (values[0] !== 1) all = false;
  }
  await Promise.all(sends);
  return all;
}

/**
 * Creates this rank's file and opens every peer's, agreeing at each stage with every rank; the
 * state to use from now on (ready, or off with the reason in the log, on every rank alike).
 */
export async function setUpSharedMemory(operation: MeshOperation, settings: SharedMemorySettings, total: number): Promise<SharedMemoryState> {
  const { rank, worldSize } = operation;
  let memory: HostSharedMemory | undefined;
  let failure: string | undefined;
  try {
    memory = HostSharedMemory.create({ directory: settings.directory, prefix: settings.prefix, rank, worldSize });
  } catch (error) {
    failure = `rank ${rank} could not create its file in ${settings.directory}: ${sharedMemoryFailure(error)}`;
  }
  try {
    if (!(await everyRankOk(operation, setupCreatedStep, memory !== undefined, total))) {
      return off(settings, memory, failure ?? `another rank could not create its file in ${settings.directory}`);
    }
    try {
      memory!.openPeers();
    } catch (error) {
      failure = `rank ${rank} could not open its peers' files: ${sharedMemoryFailure(error)}`;
    }
    if (!(await everyRankOk(operation, setupOpenedStep, failure === undefined, total))) {
      return off(settings, memory, failure ?? "another rank could not open its peers' files");
    }
    // Every rank holds every file open: the names can go.
    memory!.unlinkOwn();
    settings.log(`rank ${rank}: all-reduce through shared memory (${settings.directory}) between the ${worldSize} ranks of this host`);
    return { kind: "ready", memory: memory!, calls: 0, log: settings.log };
  } catch (error) {
    memory?.close();
    throw error;
  }
}

/** Logs why shared memory goes off on this rank (its own failure, if it had one); the caller turns it off. */
function gaveUp(state: { log: (line: string) => void }, failure: string | undefined): undefined {
  state.log(offLine(failure ?? "another rank's shared-memory file call failed"));
  return undefined;
}

function offLine(reason: string): string {
  return `all-reduce through shared memory is off: ${reason}; the ring is used`;
}

function off(settings: SharedMemorySettings, memory: HostSharedMemory | undefined, reason: string): SharedMemoryState {
  memory?.close();
  settings.log(offLine(reason));
  return { kind: "off" };
}

/**
 * Sum of `input` over all ranks (divided by `divisor` when given) into `into` or a new array,
 * through `state`'s files; `undefined` when some rank's file call failed, after which `state` is
 * off on every rank and the caller runs the ring. `scratch` supplies a reusable array of at least
 * the given length for a peer's values.
 */
export async function sharedMemoryAllReduce(
  operation: MeshOperation,
  state: Extract<SharedMemoryState, { kind: "ready" }>,
  input: Float32Array,
  divisor: number | undefined,
  scratch: (length: number) => Float32Array,
  into?: Float32Array,
): Promise<Float32Array | undefined> {
  const { rank, worldSize } = operation;
  const { memory } = state;
  const length = input.length;
  const output = into ?? arrayToFill(length);
  const call = state.calls++;
  let failure: string | undefined;
  const attempt = (what: string, body: () => void): void => {
    if (failure !== undefined) return;
    try {
      body();
    } catch (error) {
      failure = `rank ${rank} could not ${what}: ${sharedMemoryFailure(error)}`;
    }
  };
  if (worldSize === 2) {
    const slot = (call % 2) * length;
    attempt("write its input to shared memory", () => {
      memory.reserve(2 * length);
      memory.write(input, slot);
    });
    if (!(await everyRankOk(operation, writtenStep, failure === undefined, length))) return gaveUp(state, failure);
    const peer = 1 - rank;
    attempt("read its peer's input from shared memory", () => memory.read(peer, output, slot));
    if (failure !== undefined) {
      // Unrecoverable here: the peer has moved on with its result. The mesh's operation fails.
      throw new RingbookError("ERR_SHARED_MEMORY", failure);
    }
    // The peer's values plus this rank's: float addition is commutative, so both ranks get the same bits.
    addIntoFast(output, input);
    if (divisor !== undefined) divideIntoFast(output, divisor);
    return output;
  }
  // Slot [0, length): the input; [length, 2 length): this rank's reduced segment, at its own span.
  attempt("write its input to shared memory", () => {
    memory.reserve(2 * length);
    memory.write(input, 0);
  });
  if (!(await everyRankOk(operation, writtenStep, failure === undefined, length))) return gaveUp(state, failure);
  const own = segmentSpan(length, worldSize, rank);
  const sum = output.subarray(own.start, own.end);
  const theirs = scratch(own.end - own.start).subarray(0, own.end - own.start);
  attempt("sum its segment from shared memory", () => {
    for (let r = 0; r < worldSize; r++) {
      const values = r === rank ? input.subarray(own.start, own.end) : theirs;
      if (r !== rank) memory.read(r, theirs, own.start);
      if (r === 0) sum.set(values);
      else addIntoFast(sum, values);
    }
    if (divisor !== undefined) divideIntoFast(sum, divisor);
    memory.write(sum, length + own.start);
  });
  if (!(await everyRankOk(operation, reducedStep, failure === undefined, length))) return gaveUp(state, failure);
  for (let r = 0; r < worldSize; r++) {
    if (r === rank) continue;
    const span = segmentSpan(length, worldSize, r);
    attempt("read the reduced segments from shared memory", () => memory.read(r, output.subarray(span.start, span.end), length + span.start));
  }
  if (failure !== undefined) throw new RingbookError("ERR_SHARED_MEMORY", failure);
  return output;
}
