/**
 * Models saved and loaded across plain Node processes, as a script would: one process trains and
 * saves, another loads and evaluates; a process killed while saving leaves a whole model, the old
 * or the new, never half of each.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { loadModel, saveModel } from "../../lib/index.js";
import { runProcess } from "../helpers/run-process.js";

const script = fileURLToPath(new URL("./fixtures/model-io-script.js", import.meta.url));

await tf.setBackend("cpu");

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  const value: unknown = JSON.parse(line);
  assert.ok(typeof value === "object" && value !== null, `a JSON object, got ${line}`);
  return value as Record<string, unknown>;
}

test("a script trains and saves; another process loads the model compiled and evaluates it to the same loss", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-script-"));
  try {
    const modelDir = join(dir, "model");
    const trained = await runProcess(process.execPath, [script, "train", modelDir], { timeoutMs: 60_000 });
    assert.equal(trained.code, 0, trained.stderr);
    const first = lastJsonLine(trained.stdout);
    assert.deepEqual({ compiled: first.compiled, steps: first.steps }, { compiled: true, steps: 6 });
    const evaluated = await runProcess(process.execPath, [script, "evaluate", modelDir], { timeoutMs: 60_000 });
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const second = lastJsonLine(evaluated.stdout);
    assert.equal(second.loss, first.loss, "the same test loss in both processes");
    assert.equal(second.differenceViaUrl, 0, "tf.loadLayersModel('file://...') gives the same model");
    assert.equal(second.optimizer, "Adam");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a process killed while it saves leaves a whole model, the previous or the new one, and no temporary files after the next save", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-crash-"));
  const modelDir = join(dir, "model");
  let child: ChildProcess | undefined;
  try {
    for (let round = 0; round < 2; round++) {
      const saver = spawn(process.execPath, [script, "save-loop", modelDir], { stdio: ["ignore", "pipe", "pipe"] });
      child = saver;
      let stderr = "";
      saver.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<void>((resolve) => saver.once("close", () => resolve()));
      // Kill it a random time after its third save, while it writes another.
      await new Promise<void>((resolve, reject) => {
        let saves = 0;
        saver.stdout.on("data", (chunk: Buffer) => {
          saves += chunk.toString().split("\n").filter((line) => line.startsWith("saved")).length;
          if (saves >= 3) resolve();
        });
        saver.once("close", (code) => reject(new Error(`the saving process exited (${code}) before 3 saves: ${stderr}`)));
      });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
      saver.kill("SIGKILL");
      await exited;
      const model = await loadModel(modelDir);
      const weights = await Promise.all(model.getWeights().map((w) => w.data()));
      const distinct = new Set(weights.flatMap((w) => [...new Set(w)]));
      assert.equal(distinct.size, 1, `all weights from one save, got values ${[...distinct].join(", ")}`);
      model.dispose();
    }
    // The next save (in this process) removes what a killed one left beside the model.
    const survivor = await loadModel(modelDir);
    await saveModel(survivor, modelDir);
    survivor.dispose();
    assert.deepEqual(await readdir(dir), ["model"]);
  } finally {
    // Still running only when the test failed before killing it.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});
