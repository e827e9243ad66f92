import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/run-process.js";
import { makeNotebook, outputTexts } from "../helpers/notebooks.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";
import { startJupyterServer } from "../helpers/jupyter-server.js";

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
  try {
    const server = await startJupyterServer(jupyter.env, jupyter.dir);
    try {
      const input = join(jupyter.dir, "served.ipynb");
      await writeFile(input, makeNotebook(notebookCells));
      const output = join(jupyter.dir, "served.out.ipynb");
      const result = await runProcess(process.execPath, [cli, "run", input, "-o", output, "-p", "factor", "3", "--server", server.url, "--token", server.token], { env: jupyter.env, timeoutMs: 90_000 });
      assert.equal(result.code, 0, `${result.stderr}\n--- server log ---\n${server.log()}`);
      const texts = outputTexts(await readFile(output, "utf8"));
      assert.deepEqual(texts.slice(2), [["scaled 63\n"], ["150"]]);
      const sessions = (await (await fetch(`${server.url}/api/sessions?token=${server.token}`)).json()) as unknown[];
      assert.deepEqual(sessions, [], "the run shut its session down");
    } finally {
      await server.close();
    }
  } finally {
    await jupyter.close();
  }
});
