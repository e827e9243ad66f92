import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/run-process.js";
import { makeNotebook, outputTexts } from "../helpers/notebooks.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));

const notebookCells = [
  { source: "let factor = 2;", tags: ["parameters"] },
  "function scale(x: number): number { return x * factor }\nconsole.log('scaled', scale(21))",
  "scale(50)",
];

test("jupyter nbconvert --execute runs a notebook on the installed ringbook kernel", async () => {
  const jupyter = await createJupyterEnv();
  try {
    const input = join(jupyter.dir, "nbconvert.ipynb");
    await writeFile(input, makeNotebook(notebookCells));
    const result = await runProcess("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=60", "--output", "executed.ipynb", input], { env: jupyter.env, cwd: jupyter.dir });
    assert.equal(result.code, 0, result.stderr);
    const texts = outputTexts(await readFile(join(jupyter.dir, "executed.ipynb"), "utf8"));
    assert.deepEqual(texts.slice(1), [["scaled 42\n"], ["100"]]);
  } finally {
    await jupyter.close();
  }
});

test("ringbook run --server runs through a real Jupyter Server on 127.0.0.1", async () => {
  const jupyter = await createJupyterEnv();
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const server = spawn(
    "jupyter",
    ["server", "--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--ServerApp.token=${token}`, `--ServerApp.root_dir=${jupyter.dir}`],
    { env: jupyter.env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let serverLog = "";
  server.stderr.on("data", (chunk: Buffer) => (serverLog += chunk.toString("utf8")));
  const serverExited = new Promise((resolve) => server.once("exit", resolve));
  try {
    await waitForServer(`http://127.0.0.1:${port}/api/status?token=${token}`, () => serverLog);
    const input = join(jupyter.dir, "served.ipynb");
    await writeFile(input, makeNotebook(notebookCells));
    const output = join(jupyter.dir, "served.out.ipynb");
    const result = await runProcess(process.execPath, [cli, "run", input, "-o", output, "-p", "factor", "3", "--server", `http://127.0.0.1:${port}`, "--token", token], { env: jupyter.env, timeoutMs: 90_000 });
    assert.equal(result.code, 0, `${result.stderr}\n--- server log ---\n${serverLog}`);
    const texts = outputTexts(await readFile(output, "utf8"));
    assert.deepEqual(texts.slice(2), [["scaled 63\n"], ["150"]]);
    const sessions = (await (await fetch(`http://127.0.0.1:${port}/api/sessions?token=${token}`)).json()) as unknown[];
    assert.deepEqual(sessions, [], "the run shut its session down");
  } finally {
    server.kill("SIGTERM");
    const stopped = await Promise.race([serverExited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    if (!stopped) server.kill("SIGKILL");
    await jupyter.close();
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function waitForServer(url: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`jupyter server did not answer ${url} within 30 s:\n${log()}`);
}
