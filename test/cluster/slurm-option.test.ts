/**
 * launchCluster's `slurm` and `networkInterface` options without Slurm: what is refused before
 * anything starts, the salloc/srun command lines (GPUs cannot be tried here), the choice of the
 * owner's interface and how describe() says it, and a worker that cannot reach its owner.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { launchCluster } from "../../lib/cluster/launch-cluster.js";
import { inSubnet, interfaceFromOption, interfaceTowards, parseRouteGet, type InterfaceTable } from "../../lib/cluster/network-interface.js";
import { checkReachable } from "../../lib/cluster/endpoint-reachability.js";
import { allocationArgs, parseSteps, stepArgs } from "../../lib/cluster/slurm-launcher.js";
import { parseSlurmOptions } from "../../lib/cluster/slurm-options.js";
import { parseStateAndReason, SlurmPendingWatch } from "../../lib/cluster/slurm-pending-watch.js";
import { checkSlurmStepEnvironment } from "../../lib/cluster/slurm-step-environment.js";
import { parseWorkerBootstrapValue } from "../../lib/cluster/worker-bootstrap.js";
import { RingbookError } from "../../lib/errors.js";

const badOption = (message: RegExp) => (error: unknown) => error instanceof RingbookError && error.code === "ERR_BAD_OPTION" && message.test(error.message);

describe("the slurm option", () => {
  it("refuses an unknown key with the list of valid ones, and bad values naming them", () => {
    assert.throws(() => parseSlurmOptions({ node: 4 }), badOption(/unknown slurm option "node" \(known: jobId, nodes, tasksPerNode, partition, time, gpusPerTask, env, recordDir, allocateTimeoutMs\)/));
    assert.throws(() => parseSlurmOptions({ nodes: 0 }), badOption(/slurm.nodes must be a positive integer, got 0/));
    assert.throws(() => parseSlurmOptions({ gpusPerTask: 1.5 }), badOption(/slurm.gpusPerTask .* got 1.5/));
    assert.throws(() => parseSlurmOptions({ jobId: "12; rm" }), badOption(/slurm.jobId must be a Slurm job id/));
    assert.throws(() => parseSlurmOptions({ env: { SLURM_CONF: 1 } }), badOption(/slurm.env must map names to strings/));
    assert.throws(() => parseSlurmOptions("4 nodes"), badOption(/slurm must be an object/));
    assert.deepEqual(parseSlurmOptions({ nodes: 4, tasksPerNode: 1, partition: "gpu", time: "2:00:00", gpusPerTask: 1 }), { nodes: 4, tasksPerNode: 1, partition: "gpu", time: "2:00:00", gpusPerTask: 1 });
  });

  it("launchCluster refuses conflicts before allocating anything", async () => {
    const launcher = { kind: "slurm", start: () => assert.fail("no worker may start"), peerBindHost: () => "10.0.0.1", describe: () => "fake", close: async () => undefined };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ slurm: { nodes: 2, tasksPerNode: 2 }, workers: 3 }, /workers: 3 conflicts with slurm: \{ nodes: 2, tasksPerNode: 2 \} \(4 ranks\); leave workers out to get 4/],
      [{ slurm: { nodes: 2 }, launcher }, /either slurm .* or launcher, not both/],
      [{ slurm: { nodes: 2 }, transport: "ipc" }, /use transport "tcp" \(got "ipc"\)/],
      [{ slurm: { nodes: 2, partitions: "gpu" } }, /unknown slurm option "partitions"/],
      [{ workers: 2, host: "10.0.0.5" }, /unknown launchCluster option "host" \(the interface is now chosen with networkInterface/],
      [{ workers: 2, networkInterface: "" }, /networkInterface must be an interface name/],
      [{}, /workers must be an integer from 1 to 1024, got undefined/],
      [{ launcher: { ...launcher, kind: "other" } }, /workers must be an integer from 1 to 1024, got undefined/],
      [{ slurm: { nodes: 2, gpusPerTask: 1 }, devices: [0, 1] }, /devices \[0,1\] names GPUs of this machine; workers on Slurm nodes get theirs from slurm.gpusPerTask/],
    ];
    for (const [options, message] of cases) await assert.rejects(launchCluster(options as never), badOption(message));
  });

  it("asks salloc and every srun step for --gpus-per-task when gpusPerTask is given, and not otherwise", () => {
    assert.deepEqual(allocationArgs({ nodes: 4, tasksPerNode: 1, partition: "gpu", time: "2:00:00", gpusPerTask: 1 }, "ringbook-x"), ["--nodes=4", "--ntasks-per-node=1", "--job-name=ringbook-x", "--partition=gpu", "--time=2:00:00", "--gpus-per-task=1"]);
    assert.deepEqual(allocationArgs({ nodes: 1, tasksPerNode: 2 }, "ringbook-y"), ["--nodes=1", "--ntasks-per-node=2", "--job-name=ringbook-y"]);
    const request = { rank: 3, incarnation: 1, cwd: "/work", command: "node", args: ["w.js"] };
    const withGpu = stepArgs("12", "host2", request, 2);
    assert.ok(withGpu.includes("--gpus-per-task=2") && withGpu.indexOf("--gpus-per-task=2") < withGpu.indexOf("node"), withGpu.join(" "));
    assert.deepEqual(stepArgs("12", "host2", request, undefined).filter((arg) => arg.startsWith("--gpus")), []);
    assert.deepEqual(stepArgs("12", "host2", request, undefined).slice(0, 4), ["--jobid=12", "--nodes=1", "--ntasks=1", "--nodelist=host2"]);
  });

  it("names each rank's step by rank and incarnation, and reads squeue's list of steps", () => {
    const request = { rank: 3, incarnation: 1, cwd: "/work", command: "node", args: ["w.js"] };
    assert.ok(stepArgs("12", "host2", request, undefined).includes("--job-name=ringbook-rank3.1"));
    assert.deepEqual(parseSteps("12.0 ringbook-rank0.0\n  12.3 ringbook-rank3.1\n12.Batch batch\n\n"), [
      { id: "12.0", name: "ringbook-rank0.0" },
      { id: "12.3", name: "ringbook-rank3.1" },
    ]);
    assert.deepEqual(parseSteps(""), []);
  });

  it("reads squeue's state and pending reason", () => {
    assert.deepEqual(parseStateAndReason("PENDING Resources\n"), { state: "PENDING", reason: "Resources" });
    assert.deepEqual(parseStateAndReason("RUNNING None\n"), { state: "RUNNING", reason: "None" });
    assert.equal(parseStateAndReason("\n"), undefined);
  });
});

describe("the pending allocation's watch", () => {
  it("logs each change of state and reason once, and asks no more after close()", async () => {
    // A stand-in squeue: pending twice, then running; it counts how often it is asked.
    const dir = mkdtempSync(join(tmpdir(), "ringbook-squeue-"));
    try {
      const counter = join(dir, "count");
      writeFileSync(counter, "0");
      writeFileSync(join(dir, "squeue"), `#!/bin/sh\nn=$(cat ${counter}); n=$((n+1)); echo $n > ${counter}\nif [ $n -le 2 ]; then echo "PENDING Resources"; else echo "RUNNING None"; fi\n`);
      chmodSync(join(dir, "squeue"), 0o755);
      const lines: string[] = [];
      const watch = new SlurmPendingWatch("7", { env: { ...process.env, PATH: `${dir}:${process.env["PATH"] ?? ""}` }, log: (line) => lines.push(line), intervalMs: 20 });
      while (Number(readFileSync(counter, "utf8")) < 4) await new Promise((resolve) => setTimeout(resolve, 10));
      watch.close();
      const askedAtClose = Number(readFileSync(counter, "utf8"));
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual(lines, ["Slurm job 7 pending: Resources", "Slurm job 7 running"]);
      assert.ok(Number(readFileSync(counter, "utf8")) <= askedAtClose + 1, "a question in flight at close() may finish; none starts after");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the owner's network interface", () => {
  const table: InterfaceTable = [
    { name: "lo", address: "127.0.0.1", prefixLength: 8 },
    { name: "eth0", address: "10.1.2.3", prefixLength: 16 },
    { name: "ib0", address: "192.168.7.1", prefixLength: 24 },
  ];

  it("takes a name or an address, and refuses anything else listing the interfaces there are", () => {
    assert.deepEqual(interfaceFromOption("ib0", table), { address: "192.168.7.1", interfaceName: "ib0", reason: 'networkInterface option "ib0"' });
    assert.deepEqual(interfaceFromOption("10.1.2.3", table), { address: "10.1.2.3", interfaceName: "eth0", reason: 'networkInterface option "10.1.2.3"' });
    assert.throws(() => interfaceFromOption("eth9", table), badOption(/networkInterface "eth9" is neither .* \(lo 127.0.0.1, eth0 10.1.2.3, ib0 192.168.7.1\)/));
    assert.throws(() => interfaceFromOption("0.0.0.0", table), badOption(/one interface, not 0.0.0.0/));
  });

  it("picks the interface whose subnet holds the first node, saying so", () => {
    assert.equal(inSubnet("10.1.200.9", "10.1.2.3", 16), true);
    assert.equal(inSubnet("10.2.0.1", "10.1.2.3", 16), false);
    assert.deepEqual(interfaceTowards("192.168.7.40", "node7, the first allocated node", table), { address: "192.168.7.1", interfaceName: "ib0", reason: "its subnet 192.168.7.1/24 holds node7, the first allocated node (192.168.7.40)" });
    assert.throws(() => interfaceTowards("node7", "node7", table), badOption(/not an IPv4 address\): set the networkInterface option/));
  });

  it("reads the device and source address of ip route get", () => {
    assert.deepEqual(parseRouteGet("198.18.0.1 dev veth0 src 198.18.0.254 uid 0 \n    cache \n"), { device: "veth0", source: "198.18.0.254" });
    assert.deepEqual(parseRouteGet("8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0\n"), { device: "eth0", source: "10.0.0.5" });
    assert.equal(parseRouteGet("RTNETLINK answers: Network is unreachable"), undefined);
  });

  it("describe() says the interface, its address and why, in text and HTML", async () => {
    const cluster = await launchCluster({ workers: 1, transport: "tcp", networkInterface: "lo", backend: "cpu", devices: "cpu" });
    try {
      const description = cluster.describe();
      assert.deepEqual(description.placement, { launcher: "local processes", network: { address: "127.0.0.1", interfaceName: "lo", reason: 'networkInterface option "lo"' } });
      assert.match(cluster.controlEndpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      const bundle = (description as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("ringbook.mimeBundle")]!();
      assert.match(bundle["text/plain"]!, /workers: local processes; owner's interface lo 127\.0\.0\.1 \(networkInterface option "lo"\)/);
      assert.match(bundle["text/html"]!, /owner&#39;s interface lo 127\.0\.0\.1|owner's interface lo 127\.0\.0\.1/);
      assert.equal(description[0]?.pid, (await cluster.run(() => process.pid))[0], "the worker's own pid");
      assert.equal(description[0]?.slurmStep, null);
    } finally {
      await cluster.close();
    }
  });
});

describe("a worker that cannot reach its owner", () => {
  it("fails naming the host, port and interface it tried, within its bound", async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    await new Promise((resolve) => server.close(resolve));
    const started = performance.now();
    await assert.rejects(checkReachable(`tcp://127.0.0.1:${address.port}`, 600), (error: unknown) => {
      return error instanceof RingbookError && error.code === "ERR_UNREACHABLE" && new RegExp(`cannot reach the owner at 127\\.0\\.0\\.1 port ${address.port} from host \\S+ over interface lo \\(127\\.0\\.0\\.1\\): ECONNREFUSED`).test(error.message);
    });
    const elapsedMs = performance.now() - started;
    console.log(`# unreachable owner reported after ${elapsedMs.toFixed(0)} ms (bound 600 ms)`);
    assert.ok(elapsedMs < 3000, `took ${elapsedMs} ms`);
    await assert.rejects(checkReachable(`tcp://127.0.0.1:${address.port}`, 300, { who: "peer rank 2", hint: "Fix it." }), /cannot reach peer rank 2 at 127\.0\.0\.1 port \d+ from host \S+ over interface lo \(127\.0\.0\.1\): ECONNREFUSED \(for 300 ms\)\. Fix it\./);
  });
});

describe("a worker's Slurm variables", () => {
  const expected = { jobId: "12", nodeName: "host2" };
  const stepEnv = { SLURM_JOB_ID: "12", SLURM_STEP_ID: "3", SLURMD_NODENAME: "host2", SLURM_PROCID: "0", SLURM_NTASKS: "1", SLURM_STEP_NUM_TASKS: "1" };
  const placementError = (message: RegExp) => (error: unknown) => error instanceof RingbookError && error.code === "ERR_SLURM_PLACEMENT" && message.test(error.message);

  it("are read where they match the owner's placement, GPUs included", () => {
    assert.deepEqual(checkSlurmStepEnvironment(stepEnv, expected), { jobId: "12", stepId: "3", nodeName: "host2", gpus: null });
    assert.deepEqual(checkSlurmStepEnvironment({ ...stepEnv, SLURM_JOB_GPUS: "0,1" }, expected).gpus, "0,1");
    assert.deepEqual(checkSlurmStepEnvironment({ ...stepEnv, CUDA_VISIBLE_DEVICES: "1" }, expected).gpus, "1");
  });

  it("fail the worker's start naming both values where they differ", () => {
    assert.throws(() => checkSlurmStepEnvironment({ ...stepEnv, SLURM_JOB_ID: "7" }, expected), placementError(/SLURM_JOB_ID is "7", but the owner started this worker in Slurm job "12"/));
    assert.throws(() => checkSlurmStepEnvironment({ ...stepEnv, SLURMD_NODENAME: "host1" }, expected), placementError(/SLURMD_NODENAME is "host1", but the owner placed this rank on node "host2" of job 12/));
    assert.throws(() => checkSlurmStepEnvironment({ ...stepEnv, SLURM_PROCID: "1", SLURM_STEP_NUM_TASKS: "2" }, expected), placementError(/task "1" of "2" in this step/));
    assert.throws(() => checkSlurmStepEnvironment({}, expected), placementError(/SLURM_JOB_ID is not set: is it running under srun\?/));
  });

  it("the bootstrap carries the expected placement, checked like every field", () => {
    const base = { clusterId: "c", rank: 0, incarnation: 0, worldSize: 1, controlEndpoint: "tcp://1.2.3.4:5", secretHex: "ab", curveKeys: null, backend: "cpu", gpu: false, cwd: "/" };
    assert.deepEqual(parseWorkerBootstrapValue({ ...base, slurm: expected }).slurm, expected);
    assert.equal(parseWorkerBootstrapValue(base).slurm, undefined);
    assert.throws(() => parseWorkerBootstrapValue({ ...base, slurm: { jobId: 12 } }), /bootstrap field slurm must be \{ jobId, nodeName \} strings/);
  });
});
