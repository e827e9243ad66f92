/**
 * A checkpoint's manifest is read from disk like any outside input: one of the wrong shape is an
 * ERR_BAD_CHECKPOINT that names the file and says what is wrong, never a TypeError.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint } from "../../lib/training/checkpoint.js";

const good = { format: "ringbook-checkpoint/1", position: { epoch: 1, stepInEpoch: 0, globalStep: 4 }, variables: [{ shape: [2] }], optimizerSlots: [] };

test("a manifest of the wrong shape is refused naming the file and the field", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-manifest-"));
  const variable = tf.variable(tf.zeros([2]));
  const optimizer = tf.train.sgd(0.1);
  try {
    for (const [manifest, message] of [
      [[], /ringbook-checkpoint\.json: not a JSON object$/],
      [{ ...good, position: 3 }, /position 3 needs non-negative integers epoch, stepInEpoch, globalStep$/],
      [{ ...good, variables: [null] }, /variables must be a list of \{ shape \}$/],
      [{ ...good, variables: [{ shape: [-1] }] }, /variables must be a list of \{ shape \}$/],
      [{ ...good, optimizerSlots: [null] }, /optimizerSlots must be a list of \{ variableIndex, suffix, shape, dtype \}$/],
      [{ ...good, optimizerSlots: [{ variableIndex: 0, suffix: "m", shape: [2], dtype: "float64" }] }, /optimizerSlots must be a list/],
    ] as const) {
      await writeFile(join(dir, "ringbook-checkpoint.json"), JSON.stringify(manifest));
      await assert.rejects(loadCheckpoint({ dir, variables: [variable], optimizer }), (error: unknown) => {
        assert.ok(error instanceof Error && "code" in error && error.code === "ERR_BAD_CHECKPOINT", String(error));
        assert.match(error.message, message);
        return true;
      });
    }
  } finally {
    variable.dispose();
    optimizer.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
