/**
 * Workers of a notebook whose folder has no node_modules: tasks and `%%workers` cells import
 * `ringbook` and tfjs all the same, and get ringbook's copy of tfjs, the one their `tf` is.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchCluster, type Cluster } from "../../lib/index.js";

describe("workers in a folder without node_modules", () => {
  let cluster: Cluster;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ringbook-bare-"));
    cluster = await launchCluster({ workers: 2, cwd: dir });
  });
  after(async () => {
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("import tfjs in a task: ringbook's copy, the one the task's tf is", async () => {
    const same = await cluster.run(async ({ tf }) => {
      const imported = await import("@tensorflow/tfjs");
      return imported.getBackend() === tf.getBackend() && imported.Tensor === tf.Tensor;
    });
    assert.deepEqual(same, [true, true]);
  });

  it("import ringbook and tfjs in a %%workers cell", async () => {
    const values = await cluster.runCell('import * as tfx from "@tensorflow/tfjs";\nimport { mnistDigits } from "ringbook";\n[tfx.tensor([rank, 2]).sum().dataSync()[0], typeof mnistDigits, tfx.Tensor === tf.Tensor]');
    assert.deepEqual(values, [
      [2, "function", true],
      [3, "function", true],
    ]);
  });
});
