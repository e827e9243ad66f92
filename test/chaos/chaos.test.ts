/**
 * Faults during training, at a step drawn from a seed (CHAOS_SEED to replay one): a worker killed with SIGKILL, a worker frozen with SIGSTOP then resumed, a worker
 * that runs out of heap, a checkpoint directory that stops being writable, a checkpoint disk that
 * fills up. Each run either completes with the weights of an undisturbed run, or fails within its
 * bound with an error that names the cause and the rank; `restart()` recovers; the last checkpoint
 * is intact; nothing is left running and no socket directory stays.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { useWasmBackend } from "../../lib/backend/load-wasm.js";
import { launchCluster, type Cluster, type TrainOptions } from "../../lib/index.js";
import { identityOf, isRunning, type ProcessIdentity } from "../../lib/process/process-tree.js";
import { loadLayersModelFromDir } from "../../lib/training/checkpoint.js";
import { createSeededRandom } from "../../lib/data/seeded-random.js";
import { spawnChild } from "../kernel/helpers.js";

await useWasmBackend();

const heapOwner = fileURLToPath(new URL("./fixtures/heap-owner.js", import.meta.url));

const seed = Number(process.env["CHAOS_SEED"] ?? Date.now() % 100_000);
/** The seed replays a run's fault steps. */
const draw = createSeededRandom(seed);
/** A step between 3 and 12 at which the fault lands. */
const faultStep = (): number => 3 + Math.floor(draw() * 10);

const options = (overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  model: ({ tf: t }: { tf: typeof tf }) =>
    t.sequential({ layers: [t.layers.dense({ inputShape: [12], units: 16, activation: "relu" }), t.layers.dense({ units: 4, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 400, features: 12, classes: 4, seed: 5 },
  optimizer: { name: "adam", learningRate: 0.01 },
  batchSize: 40,
  epochs: 3,
  seed: 7,
  live: false,
  ...overrides,
});

async function weightsOf(cluster: Cluster): Promise<Float32Array[]> {
  const model = await cluster.model();
  const tensors = model instanceof tf.LayersModel ? model.getWeights() : model.variables;
  const values = await Promise.all(tensors.map((tensor) => tensor.data() as Promise<Float32Array>));
  model.dispose();
  return values;
}

/**
 * Waits for the run to pass `step` (and, with `checkpoint`, for a first checkpoint there), then
 * applies `fault`; resolves with the run's outcome and its time after the fault.
 */
async function faultAt(run: ReturnType<Cluster["train"]>, step: number, fault: () => void, checkpoint?: string): Promise<{ error: unknown; msAfterFault: number; faulted: boolean }> {
  let faultedAt: number | undefined;
  for await (const metrics of run.metrics) {
    if (metrics.step >= step && (checkpoint === undefined || existsSync(join(checkpoint, "model.json")))) {
      fault();
      faultedAt = performance.now();
      break;
    }
  }
  try {
    await run;
    return { error: undefined, msAfterFault: faultedAt === undefined ? 0 : performance.now() - faultedAt, faulted: faultedAt !== undefined };
  } catch (error) {
    return { error, msAfterFault: faultedAt === undefined ? 0 : performance.now() - faultedAt, faulted: faultedAt !== undefined };
  }
}

describe(`chaos during training (CHAOS_SEED=${seed})`, () => {
  let cluster: Cluster;
  let scratch: string;
  let reference: Float32Array[];
  let workers: ProcessIdentity[] = [];

  const watchWorkers = (): void => {
    for (const row of cluster.describe()) {
      const identity = typeof row.pid === "number" ? identityOf(row.pid) : undefined;
      if (identity !== undefined && !workers.some((known) => known.pid === identity.pid && known.startTicks === identity.startTicks)) workers.push(identity);
    }
  };

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), "ringbook-chaos-"));
    cluster = await launchCluster({ workers: 2 });
    watchWorkers();
    await cluster.train(options());
    reference = await weightsOf(cluster);
  });

  after(async () => {
    await cluster.close();
    const deadline = Date.now() + 5000;
    while (workers.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(workers.filter(isRunning), [], "no worker outlives the cluster");
    rmSync(scratch, { recursive: true, force: true });
  });

  const sameAsReference = async (): Promise<void> => {
    const weights = await weightsOf(cluster);
    assert.equal(weights.length, reference.length);
    weights.forEach((values, index) => assert.deepEqual(values, reference[index], `variable ${index} equals the undisturbed run's`));
  };

  test("a worker killed with SIGKILL ends the run within 1 s naming its rank; restart() recovers and the same run gives the same weights", async () => {
    const dir = join(scratch, "sigkill");
    const victim = cluster.describe()[1]!.pid!;
    const outcome = await faultAt(cluster.train(options({ epochs: 50, checkpoint: { dir, everySteps: 2 } })), faultStep(), () => process.kill(victim, "SIGKILL"), dir);
    assert.ok(outcome.faulted);
    assert.ok(outcome.msAfterFault < 1000, `the run ended ${outcome.msAfterFault} ms after the kill`);
    assert.match(String(outcome.error), new RegExp(`rank 1 \\(pid ${victim}\\) was killed by SIGKILL`));
    const checkpoint = await loadLayersModelFromDir(dir);
    checkpoint.dispose();
    await cluster.restart();
    watchWorkers();
    await cluster.train(options());
    await sameAsReference();
  });

  test("a worker frozen with SIGSTOP and resumed with SIGCONT: the run completes with the weights of an undisturbed run", async () => {
    const victim = cluster.describe()[0]!.pid!;
    const outcome = await faultAt(cluster.train(options()), faultStep(), () => {
      process.kill(victim, "SIGSTOP");
      setTimeout(() => process.kill(victim, "SIGCONT"), 500).unref();
    });
    assert.equal(outcome.error, undefined, String(outcome.error));
    await sameAsReference();
  });

  test("a checkpoint directory that stops being writable fails the run naming the checkpoint; the last checkpoint stays intact", async (t) => {
    // The directory made immutable (chattr +i; root writes through permission bits), on a tmpfs
    // of its own so that the attribute is supported. Needs root, as CI has.
    const mountPoint = join(scratch, "read-only");
    mkdirSync(mountPoint);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    t.after(() => {
      execFileSync("chattr", ["-i", mountPoint]);
      execFileSync("umount", [mountPoint]);
    });
    const dir = join(mountPoint, "checkpoint");
    const outcome = await faultAt(
      cluster.train(options({ epochs: 50, checkpoint: { dir, everySteps: 2 } })),
      faultStep(),
      () => execFileSync("chattr", ["+i", mountPoint]),
      dir,
    );
    assert.ok(outcome.error !== undefined, "the run fails");
    assert.match(String(outcome.error), /rank 0\] RingbookError: writing the checkpoint to .* failed \(the previous one, if any, is intact\): (EPERM|ENOENT)/);
    const checkpoint = await loadLayersModelFromDir(dir);
    checkpoint.dispose();
    assert.deepEqual(await cluster.run(({ rank }) => rank), [0, 1], "the workers stay usable");
  });

  test("a checkpoint disk that fills up fails the run with ENOSPC naming rank 0; the last checkpoint stays intact", async (t) => {
    const mountPoint = join(scratch, "small-disk");
    mkdirSync(mountPoint);
    // A tmpfs of 96 KiB: room for one checkpoint of this model and its temporary copy, not for a
    // ballast file as well. Needs root, as CI has.
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=96k", "tmpfs", mountPoint]);
    t.after(() => {
      execFileSync("umount", [mountPoint]);
    });
    const dir = join(mountPoint, "checkpoint");
    // Full, and kept full: a save in flight when the disk fills frees the checkpoint before it.
    let ballasts = 0;
    const fill = (): void => {
      try {
        writeFileSync(join(mountPoint, `ballast-${ballasts++}`), Buffer.alloc(96 * 1024));
      } catch {
        // The disk is full now, which is the point.
      }
    };
    let filling: NodeJS.Timeout | undefined;
    const outcome = await faultAt(
      cluster.train(options({ epochs: 50, checkpoint: { dir, everySteps: 2 } })),
      faultStep(),
      () => {
        fill();
        filling = setInterval(fill, 2);
      },
      dir,
    );
    clearInterval(filling);
    assert.ok(outcome.error !== undefined, "the run fails");
    assert.match(String(outcome.error), /rank 0\] RingbookError: writing the checkpoint to .* failed \(the previous one, if any, is intact\): ENOSPC/);
    assert.ok(existsSync(dir), "the last checkpoint is still there");
    const checkpoint = await loadLayersModelFromDir(dir);
    checkpoint.dispose();
    assert.deepEqual(await cluster.run(({ rank }) => rank), [0, 1]);
  });

  test("a worker that runs out of heap ends the run with an error naming its rank and how it died; restart() recovers", async () => {
    const owner = spawnChild(process.execPath, ["--max-old-space-size=160", heapOwner, String(faultStep())]);
    const code = await Promise.race([owner.exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), 90_000).unref())]);
    owner.kill();
    assert.equal(code, 0, owner.stderr());
    const error = JSON.parse(/ERROR (.*)/.exec(owner.stdout())?.[1] ?? "null") as string | null;
    assert.ok(error !== null, owner.stdout());
    assert.match(error, /worker rank 1 \(pid \d+\)/);
    // V8's own message when the heap limit stops the execution thread; when a native allocation of
    // zeromq.js's fails first, its C++ exception aborts the process (SIGABRT), and that is named.
    assert.match(error, /heap out of memory|Reached heap limit|ERR_WORKER_OUT_OF_MEMORY|killed by SIGABRT/);
    assert.match(owner.stdout(), /RECOVERED \d+/);
  });
});
