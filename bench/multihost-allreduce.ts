/**
 * All-reduce across hosts, one run: ringbook's allReduce bus bandwidth on the multi-host test bed
 * (hosts are network namespaces of this machine, links shaped with tc tbf), next to PyTorch
 * gloo's (Debian python3-torch, one process per host, GLOO_SOCKET_IFNAME=veth0) and to the link
 * rate, for 2 and 4 hosts and 4 and 64 MiB. Rounds interleave ringbook and gloo (alternating which
 * goes first), every variant launched fresh each round; medians over every timed iteration of
 * every round. Bus bandwidth = 2(n−1)/n × bytes / time (as nccl-tests; the anchors in
 * ../shared/multihost/README.md Q3): each all-reduce's time is the slowest rank's
 * (gloo's rank 0 alone is shown too: runs before 2026-12-05 reported that).
 * Also the benchmark MLP's training samples/s (784-256-256-10, Adam, 128 samples per worker per
 * step, wasm backend) on 1 and on 4 hosts (one worker each), in the same rounds.
 * ALL HOSTS SHARE THIS MACHINE'S CORES: what the 1 Gbit/s links leave is CPU-bound, and 4 hosts
 * of MLP training compute on the same 2 cores as 1 host.
 *
 * With --net-probe, a third row set: the same ring over plain Node TCP sockets without ZeroMQ
 * (bench/net-ring-rank.ts; no authentication, no encryption), one process per host.
 *
 * Needs root and the bed's prerequisites (test/helpers/multihost/bed-prerequisites.ts).
 * Usage: npm run build && node dist/bench/multihost-allreduce.js [--rounds 3] [--hosts 2,4]
 *        [--sizes-mib 4,64] [--rate-mbit 1000] [--mtu 1500] [--tasks-per-node 1] [--no-gloo] [--net-probe] [--mlp-hosts 1,4 | ""]
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { bedSkipReason } from "../test/helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../test/helpers/multihost/test-bed.js";
import { formatNumber, median, percentile } from "./stats.js";

const usage = "Usage: npm run build && node dist/bench/multihost-allreduce.js [--rounds 3] [--hosts 2,4]\n       [--sizes-mib 4,64] [--rate-mbit 1000] [--mtu 1500] [--tasks-per-node 1] [--no-gloo] [--net-probe] [--mlp-hosts 1,4 | \"\"]";

const PYTHON = "/usr/bin/python3";
const glooScript = fileURLToPath(new URL("../../bench/gloo_allreduce.py", import.meta.url));
const ownerScript = fileURLToPath(new URL("./multihost-allreduce-owner.js", import.meta.url));
const netRingScript = fileURLToPath(new URL("./net-ring-rank.js", import.meta.url));
const MiB = 1024 * 1024;

/** A row set: a ringbook cluster made with these launchCluster options, or the plain-TCP ring probe. */
type Variant = { label: string; launch: Record<string, unknown> } | { label: string; netProbe: true };

/** Each variant is launched fresh in every round; a second row set (e.g. CURVE links) is one more entry. */
const ringbookVariants: Variant[] = [
  { label: "ringbook", launch: { linkEncryption: "none" } },
  { label: "ringbook CURVE", launch: { linkEncryption: "curve" } },
];
const netProbeVariant: Variant = { label: "node net probe", netProbe: true };

interface SizePlan {
  bytes: number;
  warmups: number;
  iterations: number;
}

/**
 * Warm-ups move at least 64 MiB before anything is timed. A fresh worker's received frames land in
 * pages never touched before, one page fault each (costly in this VM), until the first minor
 * collection (every 16 MiB received, collectives/received-buffer-collector.ts) frees them and malloc
 * hands them out again: traced on the bed, the first 11 all-reduces of 1 MiB on 4 hosts took 384
 * page faults and 20-32 ms each, the later ones mostly 0 faults and 12-14 ms. Training's steps are
 * the steady state, so that is what the bench times (gloo gets the same warm-ups).
 */
const warmupBytes = 64 * MiB;
const planFor = (bytes: number): SizePlan => {
  const small = bytes <= 8 * MiB;
  return { bytes, warmups: Math.max(small ? 3 : 1, Math.ceil(warmupBytes / bytes)), iterations: small ? 20 : 5 };
};
/** Bus bandwidth in GB/s of one all-reduce of `bytes` over `ranks` ranks that took `seconds`. */
const busGBps = (ranks: number, bytes: number, seconds: number): number => ((2 * (ranks - 1)) / ranks) * bytes / seconds / 1e9;

/** Bus bandwidth samples (GB/s), one per timed allReduce (the slowest rank's time), per size. */
async function runRingbook(bed: TestBed, hosts: number, tasksPerNode: number, plans: SizePlan[], variant: { label: string; launch: Record<string, unknown> }): Promise<{ samples: Map<number, number[]>; cpuMsPerOp: Map<number, number[]>; hierarchical: boolean }> {
  const args = [ownerScript, JSON.stringify({ nodes: hosts, tasksPerNode, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), sizes: plans, launch: variant.launch })];
  const result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`${variant.label} on ${hosts} hosts failed (exit ${result.code}):\n${result.stderr.trim().split("\n").slice(-15).join("\n")}`);
  const parsed: unknown = JSON.parse(result.stdout.trim().split("\n")[0] ?? "null");
  if (typeof parsed !== "object" || parsed === null || !("ranks" in parsed) || !Array.isArray(parsed.ranks)) throw new Error(`unexpected owner output: ${result.stdout}`);
  const ranks = parsed.ranks.map((rank: unknown) => {
    if (typeof rank !== "object" || rank === null || !("hierarchical" in rank)) throw new Error(`unexpected rank report: ${JSON.stringify(rank)}`);
    return { hierarchical: rank.hierarchical === true, ...rankTimes(rank, "rank report") };
  });
  return { ...rankSamples(plans, ranks, hosts * tasksPerNode), hierarchical: ranks.every((rank) => rank.hierarchical) };
}

/** A rank's report's per-size times (ms per timed all-reduce) and CPU per operation. */
function rankTimes(report: unknown, what: string): { durationsMs: number[][]; cpuMsPerOp: number[] } {
  if (typeof report !== "object" || report === null || !("durationsMs" in report) || !Array.isArray(report.durationsMs) || !("cpuMsPerOp" in report) || !Array.isArray(report.cpuMsPerOp)) throw new Error(`unexpected ${what}: ${JSON.stringify(report)}`);
  return { durationsMs: report.durationsMs.map((times: unknown) => (Array.isArray(times) ? times.map(Number) : [])), cpuMsPerOp: report.cpuMsPerOp.map(Number) };
}

/** Per size: bus bandwidth samples from each timed all-reduce's slowest rank, and every rank's CPU per operation. */
function rankSamples(plans: SizePlan[], ranks: ReadonlyArray<{ durationsMs: number[][]; cpuMsPerOp: number[] }>, worldSize: number): { samples: Map<number, number[]>; cpuMsPerOp: Map<number, number[]> } {
  const samples = new Map<number, number[]>();
  const cpuMsPerOp = new Map<number, number[]>(plans.map((plan, i) => [plan.bytes, ranks.map((rank) => rank.cpuMsPerOp[i] ?? Number.NaN)]));
  plans.forEach((plan, i) => {
    const slowest = Array.from({ length: plan.iterations }, (_, k) => Math.max(...ranks.map((rank) => rank.durationsMs[i]?.[k] ?? Number.NaN)));
    samples.set(plan.bytes, slowest.map((ms) => busGBps(worldSize, plan.bytes, ms / 1000)));
  });
  return { samples, cpuMsPerOp };
}

/** The plain-TCP ring probe's bus bandwidth samples (the slowest rank's time per all-reduce), one process per host, all sizes in one launch. */
async function runNetProbe(bed: TestBed, hosts: number, plans: SizePlan[], port: () => number): Promise<{ samples: Map<number, number[]>; cpuMsPerOp: Map<number, number[]> }> {
  const dataPort = port();
  port(); // the probe's barrier takes the next port
  const addresses = bed.hosts.slice(0, hosts).map((host) => host.address);
  const results = await Promise.all(
    addresses.map((_, rank) => bed.run(bed.hosts[rank]!, process.execPath, [netRingScript, JSON.stringify({ rank, worldSize: hosts, addresses, port: dataPort, sizes: plans, chunkBytes: 256 * 1024 })], { timeoutMs: 300_000 })),
  );
  const failed = results.find((result) => result.code !== 0);
  if (failed !== undefined) throw new Error(`the net probe on ${hosts} hosts failed (exit ${failed.code}): ${failed.stderr.trim().split("\n").slice(-5).join(" | ")}`);
  const ranks = results.map((result, rank) => rankTimes(JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "null"), `net probe output of rank ${rank}`));
  return rankSamples(plans, ranks, hosts);
}

/**
 * gloo's bus bandwidth samples (GB/s, the slowest rank's time per all_reduce, and rank 0's alone as
 * earlier runs reported it), one process per host, one launch per size.
 */
async function runGloo(bed: TestBed, hosts: number, plans: SizePlan[], port: () => number): Promise<{ samples: Map<number, number[]>; rankZeroSamples: Map<number, number[]>; cpuMsPerOp: Map<number, number[]> }> {
  const samples = new Map<number, number[]>();
  const rankZeroSamples = new Map<number, number[]>();
  const cpuMsPerOp = new Map<number, number[]>();
  for (const plan of plans) {
    const init = `tcp://${bed.hosts[0]!.address}:${port()}`;
    const env = { ...process.env, GLOO_SOCKET_IFNAME: "veth0", OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
    const results = await Promise.all(
      Array.from({ length: hosts }, (_, rank) =>
        bed.run(bed.hosts[rank]!, PYTHON, [glooScript, "--rank", String(rank), "--world", String(hosts), "--init", init, "--sizes-mib", String(plan.bytes / MiB), "--iters", String(plan.iterations), "--warmup", String(plan.warmups)], { env, timeoutMs: 300_000 }),
      ),
    );
    const failed = results.find((result) => result.code !== 0);
    if (failed !== undefined) throw new Error(`gloo on ${hosts} hosts failed (exit ${failed.code}): ${failed.stderr.trim().split("\n").slice(-5).join(" | ")}`);
    const ranks = results.map((result, rank) => {
      const parsed: unknown = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "null");
      if (typeof parsed !== "object" || parsed === null || !("times_s" in parsed) || !Array.isArray(parsed.times_s) || !("cpu_ms_per_op" in parsed)) throw new Error(`unexpected gloo output of rank ${rank}: ${result.stdout}`);
      return { seconds: parsed.times_s.map(Number), cpuMsPerOp: Number(parsed.cpu_ms_per_op) };
    });
    // As for ringbook: per all_reduce, the slowest rank's time.
    const slowest = Array.from({ length: plan.iterations }, (_, k) => Math.max(...ranks.map((rank) => rank.seconds[k] ?? Number.NaN)));
    samples.set(plan.bytes, slowest.map((seconds) => busGBps(hosts, plan.bytes, seconds)));
    rankZeroSamples.set(plan.bytes, (ranks[0]?.seconds ?? []).map((seconds) => busGBps(hosts, plan.bytes, seconds)));
    cpuMsPerOp.set(plan.bytes, ranks.map((rank) => rank.cpuMsPerOp));
  }
  return { samples, rankZeroSamples, cpuMsPerOp };
}

/** Steady-state samples/s of the benchmark MLP trained by `hosts` workers, one per host. */
async function runMlp(bed: TestBed, hosts: number): Promise<number> {
  const args = [ownerScript, JSON.stringify({ nodes: hosts, tasksPerNode: 1, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), sizes: [], launch: { linkEncryption: "none" }, mlp: { steps: 150, warmup: 15 } })];
  const result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`MLP training on ${hosts} hosts failed (exit ${result.code}):\n${result.stderr.trim().split("\n").slice(-15).join("\n")}`);
  const parsed: unknown = JSON.parse(result.stdout.trim().split("\n")[0] ?? "null");
  if (typeof parsed !== "object" || parsed === null || !("samplesPerSecond" in parsed) || typeof parsed.samplesPerSecond !== "number") throw new Error(`unexpected owner output: ${result.stdout}`);
  return parsed.samplesPerSecond;
}

function append(target: Map<string, number[]>, key: string, values: readonly number[]): void {
  target.set(key, [...(target.get(key) ?? []), ...values]);
}

const cell = (samples: readonly number[] | undefined): string =>
  samples === undefined || samples.length === 0 ? "-" : `${formatNumber(median(samples), 3)} [${formatNumber(percentile(samples, 25), 3)}-${formatNumber(percentile(samples, 75), 3)}] n=${samples.length}`;

async function main(): Promise<void> {
  const { values } = parseBenchArgs(usage, {
    options: {
      rounds: { type: "string", default: "3" },
      hosts: { type: "string", default: "2,4" },
      "sizes-mib": { type: "string", default: "4,64" },
      "rate-mbit": { type: "string", default: "1000" },
      mtu: { type: "string", default: "1500" },
      "tasks-per-node": { type: "string", default: "1" },
      "no-gloo": { type: "boolean", default: false },
      "net-probe": { type: "boolean", default: false },
      "mlp-hosts": { type: "string", default: "1,4" },
    },
  });
  const skip = bedSkipReason();
  if (skip !== undefined) {
    console.log(`multi-host all-reduce benchmark skipped: ${skip}`);
    return;
  }
  const rounds = Number(values.rounds);
  const hostCounts = values.hosts.split(",").map(Number);
  const plans = values["sizes-mib"].split(",").map((mib) => planFor(Number(mib) * MiB));
  const rateMbit = Number(values["rate-mbit"]);
  const mtu = Number(values.mtu);
  const tasksPerNode = Number(values["tasks-per-node"]);
  const mlpHosts = values["mlp-hosts"].split(",").filter((h) => h.length > 0).map(Number);
  const linkGBps = (rateMbit * 1e6) / 8 / 1e9;
  const variants = values["net-probe"] ? [...ringbookVariants, netProbeVariant] : ringbookVariants;
  if (values["net-probe"] && tasksPerNode !== 1) throw new Error(`--net-probe runs one rank per host: it cannot be combined with --tasks-per-node ${tasksPerNode}`);
  let nextPort = 20_000 + Math.floor(Math.random() * 20_000);
  const port = (): number => nextPort++;

  console.log(`multi-host all-reduce benchmark: Node ${process.version}, ${cpus().length} cores SHARED BY ALL HOSTS, load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`bed: ${Math.max(...hostCounts)} hosts (network namespaces), links ${rateMbit} Mbit/s (tc tbf, both directions) = ${formatNumber(linkGBps, 3)} GB/s, MTU ${mtu}; ringbook: ${tasksPerNode} worker(s) per host, tcp between hosts, Slurm job steps`);
  console.log(`${rounds} rounds, variants interleaved (order alternates); per launch: warm-ups until 64 MiB moved (at least 3 up to 8 MiB, 1 above), then 20 timed up to 8 MiB, else 5; a barrier before each allReduce`);
  const bed = await TestBed.start({ hosts: Math.max(...hostCounts, ...mlpHosts), cpusPerHost: 2, linkRateMbitPerS: rateMbit, mtu });
  const samples = new Map<string, number[]>();
  const hierarchical = new Map<string, boolean>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const hosts of hostCounts) {
        const runs: Array<() => Promise<void>> = [
          ...variants.map((variant) => async () => {
            let result: { samples: Map<number, number[]>; cpuMsPerOp: Map<number, number[]> };
            if ("launch" in variant) {
              const ringbook = await runRingbook(bed, hosts, tasksPerNode, plans, variant);
              hierarchical.set(`${variant.label}/${hosts}`, ringbook.hierarchical);
              result = ringbook;
            } else {
              result = await runNetProbe(bed, hosts, plans, port);
            }
            for (const [bytes, values] of result.samples) append(samples, `${variant.label}/${hosts}/${bytes}`, values);
            for (const [bytes, values] of result.cpuMsPerOp) append(samples, `cpu:${variant.label}/${hosts}/${bytes}`, values);
          }),
          ...(values["no-gloo"] ? [] : [async () => {
            const result = await runGloo(bed, hosts, plans, port);
            for (const [bytes, values] of result.samples) append(samples, `gloo/${hosts}/${bytes}`, values);
            for (const [bytes, values] of result.rankZeroSamples) append(samples, `gloo rank 0/${hosts}/${bytes}`, values);
            for (const [bytes, values] of result.cpuMsPerOp) append(samples, `cpu:gloo/${hosts}/${bytes}`, values);
          }]),
        ];
        if (round % 2 === 1) runs.reverse();
        for (const run of runs) await run();
        process.stderr.write(`round ${round + 1}/${rounds}, ${hosts} hosts done (load ${loadavg()[0]!.toFixed(2)})\n`);
      }
      const mlpOrder = round % 2 === 1 ? [...mlpHosts].reverse() : mlpHosts;
      for (const hosts of mlpOrder) append(samples, `mlp/${hosts}`, [await runMlp(bed, hosts)]);
    }
  } finally {
    await bed.close();
  }

  console.log("\nbus bandwidth GB/s: median [p25-p75] n=timed allReduces over all rounds, each timed by its slowest rank; % of the link rate; ratio = ringbook median / gloo median;");
  console.log("gloo rank 0: gloo timed by rank 0 alone (what runs before 2026-12-05 reported); cpu ms/op: CPU time (user + system, all threads) per timed allReduce, median over every rank (barrier included)");
  const header = ["hosts", "size", "link GB/s", "gloo busbw", "gloo %link", "gloo rank 0 %link", "cpu ms/op", ...variants.flatMap((v) => [`${v.label} busbw`, `${v.label} %link`, `${v.label}/gloo`, "cpu ms/op"])];
  const widths = [6, 8, 10, 30, 11, 18, 10, ...variants.flatMap(() => [30, 15, 15, 10])];
  const cpuCell = (key: string): string => {
    const values = samples.get(`cpu:${key}`);
    return values === undefined ? "-" : formatNumber(median(values), 3);
  };
  const line = (cells: string[]): string => cells.map((text, i) => text.padEnd(Math.max(widths[i] ?? 12, (header[i]?.length ?? 0) + 2))).join("");
  console.log(line(header));
  for (const hosts of hostCounts) {
    for (const plan of plans) {
      const gloo = samples.get(`gloo/${hosts}/${plan.bytes}`);
      const glooMedian = gloo === undefined ? Number.NaN : median(gloo);
      const percent = (value: number): string => (Number.isFinite(value) ? `${((100 * value) / linkGBps).toFixed(1)}%` : "-");
      const rankZero = samples.get(`gloo rank 0/${hosts}/${plan.bytes}`);
      const cells = [String(hosts), `${plan.bytes / MiB} MiB`, formatNumber(linkGBps, 3), cell(gloo), percent(glooMedian), percent(rankZero === undefined ? Number.NaN : median(rankZero)), cpuCell(`gloo/${hosts}/${plan.bytes}`)];
      for (const variant of variants) {
        const mine = samples.get(`${variant.label}/${hosts}/${plan.bytes}`);
        const mineMedian = mine === undefined ? Number.NaN : median(mine);
        cells.push(cell(mine), percent(mineMedian), Number.isFinite(glooMedian) ? `${(mineMedian / glooMedian).toFixed(3)}x` : "-", cpuCell(`${variant.label}/${hosts}/${plan.bytes}`));
      }
      console.log(line(cells));
    }
  }
  if (mlpHosts.length > 0) {
    const base = samples.get(`mlp/${mlpHosts[0]}`) ?? [];
    console.log(`\nbenchmark MLP training (784-256-256-10, Adam, 128 samples per worker per step, wasm), one worker per host; samples/s median [min-max] over rounds; ratio vs ${mlpHosts[0]} host(s)`);
    console.log(`ALL HOSTS SHARE THIS MACHINE'S ${cpus().length} CORES: more hosts add links, not compute`);
    for (const hosts of mlpHosts) {
      const rates = samples.get(`mlp/${hosts}`) ?? [];
      console.log(`${`${hosts} host(s)`.padEnd(12)}${`${formatNumber(median(rates), 4)} [${formatNumber(Math.min(...rates), 4)}-${formatNumber(Math.max(...rates), 4)}] n=${rates.length}`.padEnd(34)}${(median(rates) / median(base)).toFixed(2)}x`);
    }
  }
  for (const [key, value] of hierarchical) if (value) console.log(`${key}: host-aware allReduce (several workers per host)`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

await main();
