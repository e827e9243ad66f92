// %% [markdown]
// # When a worker dies mid-run
// Workers are ordinary processes: they can crash, run out of memory or be killed. This notebook
// kills one on purpose while it trains, to show what you get: the run ends at once with an error
// naming the rank, its pid and how it died (no hang waiting on the dead worker), the other workers
// stay warm, `cluster.restart()` replaces the dead one, and training resumes from the last
// checkpoint instead of from scratch.
//
// Headless: `npx ringbook run notebooks/worker-failure.ipynb -p killAtStep 15 -p checkpointEvery 5`.

// %% parameters
const workers = 2;
const epochs = 4; // long enough that the kill lands mid-run
const batchSize = 256;
const checkpointEvery = 10; // rank 0 writes a checkpoint every this many steps
const killAtStep = 25; // kill rank 1 once the run has reached this step

// %%
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchCluster, type TrainOptions } from "ringbook";

const cluster = await launchCluster({ workers });
const checkpointRoot = await mkdtemp(join(tmpdir(), "ringbook-worker-failure-"));
const checkpointDir = join(checkpointRoot, "checkpoint");
cluster.describe()

// %% [markdown]
// ## Train, and kill a worker on the way
// `run.metrics` streams the steps as the workers report them (every 50 ms here). Once the run
// passes `killAtStep`, the notebook sends SIGKILL to rank 1's process, as the kernel's OOM killer
// would.

// %%
const options: TrainOptions = {
  model: ({ tf }: { tf: typeof import("@tensorflow/tfjs") }) =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 128, activation: "relu" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    }),
  data: { builtin: "mnist", split: "train" },
  optimizer: { name: "adam", learningRate: 0.002 },
  batchSize,
  epochs,
  seed: 3,
  checkpoint: { dir: checkpointDir, everySteps: checkpointEvery },
  metricsIntervalMs: 50,
};
const run = cluster.train({ ...options, live: { title: "first attempt" } });
const victim = cluster.describe()[1]!;
let killedAtStep = 0;
for await (const step of run.metrics) {
  if (step.step >= killAtStep) {
    killedAtStep = step.step;
    process.kill(victim.pid!, "SIGKILL");
    break;
  }
}
let failure: Error | undefined;
try {
  await run;
} catch (error) {
  failure = error as Error;
}
if (failure === undefined) throw new Error(`the run finished before step ${killAtStep}; raise epochs or lower killAtStep`);
// A later cell is checked against `failure`'s declared type, not this cell's narrowing: keep the message.
const failureMessage = failure.message;
console.log(`killed rank 1 (pid ${victim.pid}) when the notebook saw step ${killedAtStep}; the run failed with:`);
console.log(failureMessage);

// %% [markdown]
// ## The cluster after the failure
// Rank 1 is dead; rank 0 is still running and keeps its state. `restart()` starts a fresh
// process for every dead rank (a new pid) and rebuilds the links between the workers.

// %%
cluster.describe()

// %%
await cluster.restart();
const replacement = cluster.describe()[1]!;
cluster.describe()

// %% [markdown]
// ## Resume from the last checkpoint
// The same options with `resumeFrom`: the weights, the optimizer state and the position in the
// data come back from the checkpoint, so only the steps after it are repeated.

// %%
const resumed = await cluster.train({ ...options, resumeFrom: checkpointDir, live: { title: "resumed" } });
// The workers may have run a few steps past the last one the notebook saw before the kill landed.
const lastStepSeen = run.history.columns.step.at(-1)!;
const resumedFromStep = resumed.history.columns.step[0]! - 1;
console.log(`resumed after step ${resumedFromStep}, the last checkpoint written before the failure (the notebook had seen step ${lastStepSeen})`);
console.log(`finished at step ${resumed.steps}, loss ${resumed.history.columns.loss[0]!.toFixed(4)} → ${resumed.finalLoss.toFixed(4)}`);

// %% [markdown]
// ## Summary and clean-up

// %%
console.log(JSON.stringify({
  template: "worker-failure",
  workers,
  killedPid: victim.pid,
  killedAtStep,
  lastStepSeen,
  error: failureMessage,
  replacementPid: replacement.pid,
  resumedFromStep,
  steps: resumed.steps,
  firstLoss: run.history.columns.loss[0],
  lossAtResume: resumed.history.columns.loss[0],
  finalLoss: resumed.finalLoss,
}));
await rm(checkpointRoot, { recursive: true, force: true });
await cluster.close();
