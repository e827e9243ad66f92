/**
 * One rank of a ring all-reduce over plain Node TCP sockets, without ZeroMQ: a probe of what a data
 * plane that skips ZeroMQ's I/O thread would give, run by `bench/multihost-allreduce.ts --net-probe`,
 * one process per bed host. The algorithm and chunking are the ring's (lib/collectives/
 * ring-all-reduce.ts): reduce-scatter then all-gather, each 256 KiB chunk forwarded as soon as it has
 * arrived whole. Bytes from the previous rank land in one preallocated buffer (`onread`) and are
 * summed as they arrive; writes go to the socket from this thread (libuv writes at once when the
 * socket can take it). A ring barrier (a token twice around, on a connection of its own) comes
 * before each operation, as the other variants have a barrier.
 *
 * A probe, not a data plane: nothing is authenticated or encrypted, and whoever connects first is
 * taken for the previous rank. Only for the bed's private network.
 *
 * Run by the bench: node dist/bench/net-ring-rank.js '<NetRingSpec as JSON>'; prints one JSON
 * line `{"durationsMs":[[...] per size],"cpuMsPerOp":[... per size]}`.
 */
import { connect, createServer, type Socket } from "node:net";
import { mod, segmentSpan, type Span } from "../lib/collectives/ring-layout.js";
import { addIntoFast } from "../lib/collectives/simd-floats.js";
import { isJsonObject } from "../lib/json-guards.js";

/** What the bench passes each rank. */
interface NetRingSpec {
  rank: number;
  worldSize: number;
  /** Every rank's address, by rank; each listens there. */
  addresses: string[];
  /** Data on `port`, barrier tokens on `port + 1`. */
  port: number;
  sizes: Array<{ bytes: number; warmups: number; iterations: number }>;
  chunkBytes: number;
}

const connectDeadlineMs = 10_000;

function parseSpec(text: string | undefined): NetRingSpec {
  const value: unknown = JSON.parse(text ?? "null");
  const count = (field: unknown, name: string, min: number): number => {
    if (typeof field !== "number" || !Number.isSafeInteger(field) || field < min) throw new Error(`net-ring-rank: ${name} must be an integer of at least ${min}, got ${JSON.stringify(field)}`);
    return field;
  };
  if (!isJsonObject(value)) throw new Error(`net-ring-rank: the argument must be a JSON object, got ${text}`);
  const worldSize = count(value["worldSize"], "worldSize", 2);
  const rank = count(value["rank"], "rank", 0);
  if (rank >= worldSize) throw new Error(`net-ring-rank: rank ${rank} is not below worldSize ${worldSize}`);
  const addresses = value["addresses"];
  if (!Array.isArray(addresses) || addresses.length !== worldSize || !addresses.every((a): a is string => typeof a === "string")) throw new Error(`net-ring-rank: addresses must be ${worldSize} strings`);
  const sizes = value["sizes"];
  if (!Array.isArray(sizes) || sizes.length === 0) throw new Error("net-ring-rank: sizes must be a non-empty array");
  const chunkBytes = count(value["chunkBytes"], "chunkBytes", 4);
  if (chunkBytes % 4 !== 0) throw new Error(`net-ring-rank: chunkBytes must be a multiple of 4, got ${chunkBytes}`);
  return {
    rank,
    worldSize,
    addresses,
    port: count(value["port"], "port", 1),
    chunkBytes,
    sizes: sizes.map((size: unknown) => {
      if (!isJsonObject(size)) throw new Error(`net-ring-rank: a size must be an object, got ${JSON.stringify(size)}`);
      const bytes = count(size["bytes"], "bytes", 4 * worldSize);
      if (bytes % 4 !== 0) throw new Error(`net-ring-rank: bytes must be a multiple of 4, got ${bytes}`);
      return { bytes, warmups: count(size["warmups"], "warmups", 0), iterations: count(size["iterations"], "iterations", 1) };
    }),
  };
}

/** The one connection the next rank opens to `port`; the listener closes once it has it. */
function acceptOne(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true }, (socket) => {
      server.close();
      resolve(socket);
    });
    server.once("error", reject);
    server.listen(port, address);
  });
}

/** Connects to the previous rank, retrying while it is not listening yet. */
async function connectTo(address: string, port: number, onread?: { buffer: Buffer; callback: (bytes: number, buffer: Buffer) => boolean }): Promise<Socket> {
  const deadline = performance.now() + connectDeadlineMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: address, port, noDelay: true, ...(onread === undefined ? {} : { onread }) });
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      });
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`net-ring-rank: cannot connect to ${address}:${port}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const spec = parseSpec(process.argv[2]);
const { rank, worldSize, chunkBytes } = spec;
const previous = mod(rank - 1, worldSize);

/** Bytes of an operation that arrived before this rank started it (its barrier ends later than the previous rank's), kept until it does. */
const early: Buffer[] = [];
const keepEarly = (buffer: Buffer, length: number): void => {
  early.push(Buffer.from(buffer.subarray(0, length)));
};
let onBytes: (buffer: Buffer, length: number) => void = keepEarly;
const readBuffer = Buffer.alloc(1 << 20);
const [toNext, fromPrevious, tokensToNext, tokensFromPrevious] = await Promise.all([
  acceptOne(spec.addresses[rank]!, spec.port),
  connectTo(spec.addresses[previous]!, spec.port, {
    buffer: readBuffer,
    callback: (bytes, buffer) => {
      onBytes(buffer, bytes);
      return true;
    },
  }),
  acceptOne(spec.addresses[rank]!, spec.port + 1),
  connectTo(spec.addresses[previous]!, spec.port + 1),
]);

let tokens = 0;
let tokenArrived: (() => void) | undefined;
tokensFromPrevious.on("data", (data: Buffer) => {
  tokens += data.length;
  tokenArrived?.();
});
async function nextToken(): Promise<void> {
  while (tokens === 0) await new Promise<void>((resolve) => (tokenArrived = resolve));
  tokenArrived = undefined;
  tokens--;
}
/** Every rank has entered once the token went twice around. */
async function barrier(): Promise<void> {
  const token = Buffer.alloc(1);
  if (rank === 0) {
    tokensToNext.write(token);
    await nextToken();
    tokensToNext.write(token);
    await nextToken();
  } else {
    await nextToken();
    tokensToNext.write(token);
    await nextToken();
    tokensToNext.write(token);
  }
}

/** What every all-reduce of one array length needs, made once per length (not on the timed path). */
interface RingPlan {
  /** This rank's own segment, sent at the first step. */
  own: Span;
  /** What arrives from the previous rank, in order: at reduce-scatter step s segment (rank − s − 1), added to this rank's values; at all-gather step s segment (rank − s), final. */
  steps: Array<Span & { reduce: boolean; forward: boolean }>;
  /** Where a reduce-scatter segment lands before it is added (the longest segment). */
  staging: Float32Array;
}

function planRing(length: number): RingPlan {
  const segment = (index: number): Span => segmentSpan(length, worldSize, mod(index, worldSize));
  const steps = Array.from({ length: 2 * (worldSize - 1) }, (_, step) => {
    const reduce = step < worldSize - 1;
    return { ...segment(reduce ? rank - step - 1 : rank - (step - (worldSize - 1))), reduce, forward: step < 2 * (worldSize - 1) - 1 };
  });
  return { own: segment(rank), steps, staging: new Float32Array(Math.ceil(length / worldSize)) };
}

/** One all-reduce (sum) of `input` into `output`, which must not be `input`, by `plan` (made for their length). */
function allReduce(input: Float32Array, output: Float32Array, plan: RingPlan): Promise<void> {
  const { own, steps, staging } = plan;
  output.set(input);
  const outputBytes = new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
  const stagingBytes = new Uint8Array(staging.buffer);
  const chunkValues = chunkBytes / 4;
  return new Promise<void>((resolve) => {
    let step = 0;
    let receivedBytes = 0;
    let readyValues = 0;
    let sentValues = 0;
    let writesPending = 0;
    const settleIfDone = (): void => {
      if (step !== steps.length || writesPending !== 0) return;
      onBytes = keepEarly;
      resolve();
    };
    // Sent chunks are views of `output`: none of them is written again in this operation.
    const send = (start: number, end: number): void => {
      writesPending++;
      toNext.write(outputBytes.subarray(start * 4, end * 4), () => {
        writesPending--;
        settleIfDone();
      });
    };
    for (let start = own.start; start < own.end; start += chunkValues) send(start, Math.min(own.end, start + chunkValues));
    const receive = (buffer: Buffer, bytes: number): void => {
      let offset = 0;
      while (offset < bytes && step < steps.length) {
        const current = steps[step]!;
        const segmentBytes = (current.end - current.start) * 4;
        const taken = Math.min(bytes - offset, segmentBytes - receivedBytes);
        if (current.reduce) stagingBytes.set(buffer.subarray(offset, offset + taken), receivedBytes);
        else outputBytes.set(buffer.subarray(offset, offset + taken), current.start * 4 + receivedBytes);
        receivedBytes += taken;
        offset += taken;
        const whole = Math.floor(receivedBytes / 4);
        if (current.reduce && whole > readyValues) addIntoFast(output.subarray(current.start + readyValues, current.start + whole), staging.subarray(readyValues, whole));
        readyValues = whole;
        const segmentValues = current.end - current.start;
        if (current.forward) {
          while (readyValues - sentValues >= chunkValues || (readyValues === segmentValues && sentValues < readyValues)) {
            const upTo = Math.min(readyValues, sentValues + chunkValues);
            send(current.start + sentValues, current.start + upTo);
            sentValues = upTo;
          }
        }
        if (receivedBytes === segmentBytes) {
          step++;
          receivedBytes = 0;
          readyValues = 0;
          sentValues = 0;
        }
      }
      // The next operation's first bytes, in the same read.
      if (offset < bytes) early.push(Buffer.from(buffer.subarray(offset, bytes)));
      settleIfDone();
    };
    onBytes = receive;
    for (const chunk of early.splice(0)) receive(chunk, chunk.length);
  });
}

const durationsMs: number[][] = [];
const cpuMsPerOp: number[] = [];
for (const size of spec.sizes) {
  // Each rank's values differ and vary along the array, so a misplaced segment shows in the check below.
  const input = Float32Array.from({ length: size.bytes / 4 }, (_, i) => rank + 1 + (i % 7));
  const output = new Float32Array(size.bytes / 4);
  const plan = planRing(input.length);
  const times: number[] = [];
  let cpuAtStart = process.cpuUsage();
  for (let i = 0; i < size.warmups + size.iterations; i++) {
    if (i === size.warmups) cpuAtStart = process.cpuUsage();
    await barrier();
    const started = performance.now();
    await allReduce(input, output, plan);
    if (i >= size.warmups) times.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuAtStart);
  const expected = (i: number): number => (worldSize * (worldSize + 1)) / 2 + worldSize * (i % 7);
  const wrong = output.findIndex((value, i) => value !== expected(i));
  if (wrong >= 0) throw new Error(`net-ring-rank: the sum at index ${wrong} of ${output.length} is ${output[wrong]}, expected ${expected(wrong)}`);
  durationsMs.push(times);
  cpuMsPerOp.push((cpu.user + cpu.system) / 1000 / size.iterations);
}
console.log(JSON.stringify({ durationsMs, cpuMsPerOp }));
for (const socket of [toNext, fromPrevious, tokensToNext, tokensFromPrevious]) socket.destroy();
