/**
 * A kernel whose launcher dies without asking it to shut down (a front end or `ringbook run`
 * killed with SIGKILL) shuts itself down, as ipykernel does, so nothing it started lingers.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { killIfAlive, makeTempDir, writeConnectionFile } from "./helpers.js";
import { isAlive, waitForExit } from "../cluster/helpers.js";

const parentScript = fileURLToPath(new URL("./fixtures/kernel-parent.js", import.meta.url));

test("the kernel exits within 3 s after the process that started it is killed with SIGKILL", async () => {
  const temp = await makeTempDir("parent-exit");
  const connection = await writeConnectionFile(temp.path, "secret-key");
  const parent = spawn(process.execPath, [parentScript, connection.file], { stdio: ["ignore", "pipe", "inherit"] });
  let kernelPid: number | undefined;
  try {
    kernelPid = await new Promise<number>((resolve, reject) => {
      let text = "";
      parent.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        const match = /KERNEL (\d+)\n/.exec(text);
        if (match) resolve(Number(match[1]));
      });
      parent.once("exit", (code) => reject(new Error(`the parent exited early with ${code}`)));
    });
    // Let the kernel start (bind, executor) before its parent goes away.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(isAlive(kernelPid), "the kernel runs");
    parent.kill("SIGKILL");
    assert.deepEqual(await waitForExit([kernelPid], 3000), [], "the kernel is gone");
  } finally {
    killIfAlive(parent.pid ?? 0);
    if (kernelPid !== undefined && isAlive(kernelPid)) killIfAlive(kernelPid);
    await temp.remove();
  }
});
