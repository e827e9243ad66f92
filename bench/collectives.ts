/**
 * Benchmark of ringbook's collectives against raw ZeroMQ, in one run so that machine noise hits
 * both: point-to-point throughput of a PUSH/PULL stream between two processes (ipc and tcp
 * loopback), then the ring allReduce's bus bandwidth, 2(n−1)/n × bytes / time, with 2 and 4 rank
 * processes over ipc, and its ratio to the ipc point-to-point throughput at the same size. All of
 * it twice: with glibc's default malloc, and with malloc settings that keep ZeroMQ's large
 * message buffers out of mmap (which the cluster can set for its worker processes).
 *
 * Usage: npm run build && node dist/bench/collectives.js [--sizes-mib 1,4,16,64] [--worlds 2,4]
 *        [--chunk-kib 1024] [--hwm 4] [--repeats-scale 1] [--envs default,tuned-malloc]
 *        [--worker-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"] [--fresh-output]
 *
 * Every process runs with a cluster worker's heap flags (lib/cluster/worker-handle.ts). The ring
 * reduces into one output array reused by every call (`into`, as training does); --fresh-output
 * allocates one per call instead (for 64 MiB, ~25 ms of page faults per call here).
 *
 * Every worker process is ended by its own PID (SIGKILL after 10 s if it does not exit when asked).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { parseBenchArgs } from "./bench-args.js";
import { workerHeapFlags } from "../lib/cluster/worker-handle.js";
import { ClusterSecret } from "../lib/transport/cluster-secret.js";
import { sharedMemoryDirectory } from "../lib/collectives/host-shared-memory.js";
import { PrivateDir } from "../lib/transport/private-dir.js";
import type { WorkerCommand, WorkerReport } from "./collectives-worker.js";

const usage = "Usage: npm run build && node dist/bench/collectives.js [--sizes-mib 1,4,16,64] [--worlds 2,4]\n       [--chunk-kib 1024] [--hwm 4] [--repeats-scale 1] [--envs default,tuned-malloc]\n       [--worker-node-args=\"--cpu-prof --cpu-prof-dir=/tmp/prof\"] [--fresh-output]";

const workerScript = new URL("./collectives-worker.js", import.meta.url);
const MiB = 1024 * 1024;
/** Node options for the worker processes: a cluster worker's heap flags, plus any given (for profiling); set by main. */
let workerArgs: string[] = [];
/** allReduce into a new array per call, instead of into one array reused by every call (as training does). */
let freshOutput = false;

class Worker {
  readonly child: ChildProcess;
  readonly #reports: WorkerReport[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly exited: Promise<void>;

  constructor(execArgv: string[], env: NodeJS.ProcessEnv) {
    this.child = fork(workerScript, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv, env: { ...process.env, ...env } });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.on("message", (report: WorkerReport) => {
      this.#reports.push(report);
      this.#waiters.splice(0).forEach((wake) => wake());
    });
    this.child.once("exit", () => this.#waiters.splice(0).forEach((wake) => wake()));
  }

  async ask(command: WorkerCommand): Promise<WorkerReport> {
    this.child.send(command);
    for (;;) {
      const report = this.#reports.shift();
      if (report?.type === "fatal") throw new Error(`worker ${this.child.pid}: ${report.message}`);
      if (report !== undefined) return report;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`worker ${this.child.pid} exited`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: "exit" } satisfies WorkerCommand);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function endpointOf(report: WorkerReport): string {
  if (report.type !== "endpoint") throw new Error(`expected an endpoint, got ${report.type}`);
  return report.endpoint;
}

function durationsOf(report: WorkerReport): number[] {
  if (report.type !== "durations") throw new Error(`expected durations, got ${report.type}`);
  return report.durationsMs;
}

interface Summary {
  median: number;
  p25: number;
  p75: number;
  count: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number): number => {
    const index = fraction * (sorted.length - 1);
    const low = Math.floor(index);
    const high = Math.ceil(index);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (index - low);
  };
  return { median: at(0.5), p25: at(0.25), p75: at(0.75), count: sorted.length };
}

const gbps = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e9;
const fmt = (value: number): string => value.toFixed(2);

/** Raw ZeroMQ PUSH/PULL throughput (GB/s per repeat) between two fresh processes. */
async function measureP2p(transport: "ipc" | "tcp", dir: PrivateDir, sizes: number[], repeatsFor: (bytes: number) => number, env: NodeJS.ProcessEnv): Promise<Map<number, number[]>> {
  const sender = new Worker(workerArgs, env);
  const receiver = new Worker(workerArgs, env);
  try {
    const address = (name: string): string => (transport === "ipc" ? dir.endpoint(name) : "tcp://127.0.0.1:*");
    const ackEndpoint = endpointOf(await sender.ask({ type: "p2p-sender", bindAddress: address(`ack-${transport}`) }));
    const dataEndpoint = endpointOf(await receiver.ask({ type: "p2p-receiver", bindAddress: address(`data-${transport}`), ackEndpoint }));
    await sender.ask({ type: "p2p-connect", dataEndpoint });
    const results = new Map<number, number[]>();
    for (const bytes of sizes) {
      const messages = Math.max(2, Math.ceil((64 * MiB) / bytes));
      const durations = durationsOf(await sender.ask({ type: "p2p-run", bytes, messages, repeats: repeatsFor(bytes) }));
      results.set(bytes, durations.map((ms) => gbps(bytes * messages, ms)));
    }
    return results;
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}

/** Per-direction throughput (GB/s per repeat) of two processes sending each other `bytes` at once, in ring-sized chunks. */
async function measureExchange(dir: PrivateDir, sizes: number[], repeatsFor: (bytes: number) => number, chunkBytes: number, env: NodeJS.ProcessEnv): Promise<Map<number, number[]>> {
  const sides = [new Worker(workerArgs, env), new Worker(workerArgs, env)] as const;
  try {
    // Each side binds a PULL and connects a PUSH to the other's (the p2p commands, used both ways).
    const endpoints = await Promise.all(sides.map(async (side, i) => endpointOf(await side.ask({ type: "p2p-sender", bindAddress: dir.endpoint(`xchg-${i}`) }))));
    await Promise.all(sides.map((side, i) => side.ask({ type: "p2p-connect", dataEndpoint: endpoints[1 - i]! })));
    const results = new Map<number, number[]>();
    for (const bytes of sizes) {
      const [leader] = await Promise.all(sides.map(async (side, i) => durationsOf(await side.ask({ type: "exchange-run", bytes, chunkBytes, repeats: repeatsFor(bytes), leader: i === 0 }))));
      results.set(bytes, leader!.map((ms) => gbps(bytes, ms)));
    }
    return results;
  } finally {
    await Promise.all(sides.map((side) => side.stop()));
  }
}

/** allReduce bus bandwidth (GB/s per repeat, from the slowest rank's time) with `worldSize` rank processes over ipc. */
async function measureAllReduce(worldSize: number, dir: PrivateDir, sizes: number[], repeatsFor: (bytes: number) => number, tuning: { chunkElements: number; highWaterMark: number }, env: NodeJS.ProcessEnv, sharedMemory: boolean): Promise<Map<number, number[]>> {
  const workers = Array.from({ length: worldSize }, () => new Worker(workerArgs, env));
  try {
    const password = ClusterSecret.generate().socketPassword;
    const zapDomain = `bench-${randomUUID()}`;
    const prefix = `bench-${randomUUID().slice(0, 8)}`;
    const endpoints = await Promise.all(
      workers.map(async (worker, rank) =>
        endpointOf(await worker.ask({ type: "rank-bind", rank, worldSize, bindAddress: dir.endpoint(`w${worldSize}-${rank}${sharedMemory ? "s" : ""}`), password, zapDomain, ...tuning, ...(sharedMemory ? { sharedMemory: { directory: sharedMemoryDirectory, prefix } } : {}) })),
      ),
    );
    await Promise.all(workers.map((worker) => worker.ask({ type: "rank-connect", endpoints })));
    const results = new Map<number, number[]>();
    for (const bytes of sizes) {
      const perRank = await Promise.all(workers.map(async (worker) => durationsOf(await worker.ask({ type: "rank-run", bytes, repeats: repeatsFor(bytes), warmups: bytes <= 4 * MiB ? 10 : 3, into: !freshOutput }))));
      const slowest = perRank[0]!.map((_, i) => Math.max(...perRank.map((durations) => durations[i]!)));
      results.set(bytes, slowest.map((ms) => gbps(((2 * (worldSize - 1)) / worldSize) * bytes, ms)));
    }
    return results;
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

/** glibc malloc settings that stop ZeroMQ's large receive buffers from being mmapped and trimmed (page faults on every message). */
const mallocTunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912:glibc.malloc.top_pad=67108864";

async function main(): Promise<void> {
  const { values } = parseBenchArgs(usage, {
    options: {
      "sizes-mib": { type: "string", default: "1,4,16,64" },
      worlds: { type: "string", default: "2,4" },
      "chunk-kib": { type: "string", default: "1024" },
      hwm: { type: "string", default: "4" },
      "repeats-scale": { type: "string", default: "1" },
      envs: { type: "string", default: "default,tuned-malloc" },
      "worker-node-args": { type: "string", default: "" },
      "fresh-output": { type: "boolean", default: false },
    },
  });
  freshOutput = values["fresh-output"];
  workerArgs = [...workerHeapFlags, ...values["worker-node-args"].split(" ").filter((arg) => arg.length > 0)];
  const sizes = values["sizes-mib"].split(",").map((s) => Number(s) * MiB);
  const worlds = values.worlds.split(",").map(Number);
  const tuning = { chunkElements: (Number(values["chunk-kib"]) * 1024) / 4, highWaterMark: Number(values.hwm) };
  const scale = Number(values["repeats-scale"]);
  const repeatsFor = (bytes: number): number => Math.max(3, Math.round(scale * (bytes <= MiB ? 90 : bytes <= 4 * MiB ? 60 : bytes <= 16 * MiB ? 30 : 12)));
  const environments = values.envs.split(",").map((name) => {
    if (name === "default") return { label: "default glibc malloc", env: {} };
    if (name === "tuned-malloc") return { label: `GLIBC_TUNABLES=${mallocTunables} in every process`, env: { GLIBC_TUNABLES: mallocTunables } };
    throw new Error(`unknown environment ${JSON.stringify(name)} (default, tuned-malloc)`);
  });
  console.log(`collectives benchmark: Node ${process.version}, ${cpus().length} cores, load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`node flags of every process: ${workerArgs.join(" ")}; ring output: ${freshOutput ? "a new array per call" : "one array reused by every call (into)"}`);
  console.log(`ring: chunk ${values["chunk-kib"]} KiB, high-water mark ${tuning.highWaterMark} messages; p2p: one PUSH/PULL stream of >= 64 MiB per repeat, zeromq defaults`);
  console.log("GB/s = 1e9 bytes/s; median [p25–p75] over n repeats, after warm-up");
  const dir = await PrivateDir.create("rbb-");
  try {
    for (const { label, env } of environments) {
      console.log(`\n=== ${label} ===`);
      const p2p = new Map<string, Map<number, number[]>>();
      for (const transport of ["ipc", "tcp"] as const) p2p.set(transport, await measureP2p(transport, dir, sizes, repeatsFor, env));
      p2p.set("exchange", await measureExchange(dir, sizes, repeatsFor, tuning.chunkElements * 4, env));
      console.log("raw ZeroMQ between two processes: a PUSH/PULL stream of messages of the size (ipc, tcp); and an exchange over ipc,");
      console.log("both sending each other the size at once in ring-sized chunks (the traffic of a 2-rank ring allReduce), GB/s each way");
      console.log(`${"size".padEnd(9)}${"ipc GB/s".padEnd(28)}${"tcp loopback GB/s".padEnd(28)}${"ipc exchange GB/s".padEnd(28)}`);
      for (const bytes of sizes) {
        const cell = (transport: string): string => {
          const s = summarize(p2p.get(transport)!.get(bytes)!);
          return `${fmt(s.median)} [${fmt(s.p25)}–${fmt(s.p75)}] n=${s.count}`.padEnd(28);
        };
        console.log(`${`${bytes / MiB} MiB`.padEnd(9)}${cell("ipc")}${cell("tcp")}${cell("exchange")}`);
      }
      console.log(`allReduce (sum, float32): the ring over ipc (PeerMesh with ZAP PLAIN), and through shared memory (${sharedMemoryDirectory}, ranks of one host); bus bandwidth = 2(n-1)/n x bytes / slowest rank's time`);
      console.log(`${"path".padEnd(8)}${"world".padEnd(7)}${"array".padEnd(9)}${"time ms".padEnd(26)}${"bus GB/s".padEnd(26)}${"bus / p2p ipc".padEnd(15)}bus / exchange (medians)`);
      for (const worldSize of worlds) for (const path of ["ring", "shm"] as const) {
        const results = await measureAllReduce(worldSize, dir, sizes, repeatsFor, tuning, env, path === "shm");
        for (const bytes of sizes) {
          const bus = summarize(results.get(bytes)!);
          const factor = ((2 * (worldSize - 1)) / worldSize) * bytes;
          const ms = summarize(results.get(bytes)!.map((g) => (factor / (g * 1e9)) * 1000));
          const ratio = (baseline: string): string => `${((100 * bus.median) / summarize(p2p.get(baseline)!.get(bytes)!).median).toFixed(0)}%`;
          console.log(`${path.padEnd(8)}${String(worldSize).padEnd(7)}${`${bytes / MiB} MiB`.padEnd(9)}${`${fmt(ms.median)} [${fmt(ms.p25)}–${fmt(ms.p75)}]`.padEnd(26)}${`${fmt(bus.median)} [${fmt(bus.p25)}–${fmt(bus.p75)}] n=${bus.count}`.padEnd(26)}${ratio("ipc").padEnd(15)}${ratio("exchange")}`);
        }
      }
    }
  } finally {
    await dir.remove();
  }
}

await main();
