import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/run-process.js";
import { makeNotebook, outputTexts } from "../helpers/notebooks.js";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));

async function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-run-test-"));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("parameters of every type are injected after the parameters cell; the input is untouched", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "params.ipynb");
    const original = makeNotebook([
      "#md # A parameterised notebook",
      { source: 'let epochs = 1;\nlet name = "default";\nlet verbose = false;\nlet sizes = [1];', tags: ["parameters"] },
      'console.log(JSON.stringify({ epochs, name, verbose, sizes, types: [typeof epochs, typeof name, typeof verbose, Array.isArray(sizes)] }))',
    ]);
    await writeFile(input, original);
    const output = join(dir, "out.ipynb");
    const result = await runProcess(process.execPath, [cli, "run", input, "-o", output, "-p", "epochs", "3", "-p", "name", "digits run", "-p", "verbose", "true", "-p", "sizes", "[2, 4]"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), output, "prints where the executed notebook is");
    assert.equal(await readFile(input, "utf8"), original);
    const executed = await readFile(output, "utf8");
    const notebook = JSON.parse(executed) as { cells: Array<{ metadata: { tags?: string[] }; source: string }> };
    assert.deepEqual(notebook.cells[2]!.metadata.tags, ["injected-parameters"]);
    assert.match(notebook.cells[2]!.source, /let epochs = 3;\nlet name = "digits run";\nlet verbose = true;\nlet sizes = \[2,4\];/);
    assert.deepEqual(outputTexts(executed).at(-1), [
      '{"epochs":3,"name":"digits run","verbose":true,"sizes":[2,4],"types":["number","string","boolean",true]}\n',
    ]);
  });
});

test("output a cell causes after it ended is saved in that cell, and type errors are printed and saved with their cell", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "late.ipynb");
    await writeFile(
      input,
      makeNotebook([
        "setTimeout(() => console.log('late from the first cell'), 300);\n'started'",
        "const typed: string = 5;",
        "await new Promise((resolve) => setTimeout(resolve, 600));\nconsole.log('second waited')",
      ]),
    );
    const result = await runProcess(process.execPath, [cli, "run", input]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /In\[2\] line 1:7 - error TS2322: Type 'number' is not assignable to type 'string'\./);
    const texts = outputTexts(await readFile(join(dir, "late.out.ipynb"), "utf8"));
    assert.ok(texts[0]?.includes("late from the first cell\n"), JSON.stringify(texts));
    assert.ok(texts[1]?.some((text) => text.includes("error TS2322")), JSON.stringify(texts));
    assert.deepEqual(texts[2], ["second waited\n"]);
  });
});

test("a failing cell stops the run with its number, line and traceback; earlier outputs are saved", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "fails.ipynb");
    await writeFile(input, makeNotebook(['console.log("before")', "const a = 1;\nconst b = a + 1;\nthrow new Error(`broken at ${b}`);", 'console.log("never")']));
    const result = await runProcess(process.execPath, [cli, "run", input]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cell 2 failed: Error: broken at 2/);
    assert.match(result.stderr, /line 3: throw new Error\(`broken at \$\{b\}`\);/);
    const texts = outputTexts(await readFile(join(dir, "fails.out.ipynb"), "utf8"));
    assert.deepEqual(texts[0], ["before\n"]);
    assert.deepEqual(texts[1], ["Error: broken at 2"]);
    assert.deepEqual(texts[2], [], "cells after the failure do not run");
  });
});

test("--allow-errors saves a failing cell's error and runs the next cells; the run exits 0 and names the failed cell", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "tolerant.ipynb");
    await writeFile(input, makeNotebook(['console.log("before")', 'throw new Error("expected failure")', 'console.log("after")']));
    const result = await runProcess(process.execPath, [cli, "run", input, "--allow-errors"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /cell 2 failed: Error: expected failure \(allowed: --allow-errors\)/);
    assert.match(result.stderr, /failed, allowed: cell 2/);
    const executed = await readFile(join(dir, "tolerant.out.ipynb"), "utf8");
    assert.deepEqual(outputTexts(executed), [["before\n"], ["Error: expected failure"], ["after\n"]]);
    const metadata = (JSON.parse(executed) as { metadata: { ringbook: Record<string, unknown> } }).metadata.ringbook;
    assert.equal(metadata["status"], "ok");
    assert.deepEqual(metadata["allowed_errors"], [2]);
  });
});

test("nbclient's tags: a raises-exception cell may fail, a skip-execution cell is not run and keeps its outputs, an untagged failure still stops the run", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "tagged.ipynb");
    const notebook = JSON.parse(
      makeNotebook([
        { source: 'throw new Error("shown on purpose")', tags: ["raises-exception"] },
        { source: 'console.log("must not run")', tags: ["skip-execution"] },
        'console.log("runs")',
        'throw new Error("real failure")',
        'console.log("never")',
      ]),
    ) as { cells: Array<{ outputs: unknown[]; execution_count: number | null }> };
    notebook.cells[1]!.outputs = [{ output_type: "stream", name: "stdout", text: "saved earlier\n" }];
    notebook.cells[1]!.execution_count = 7;
    await writeFile(input, JSON.stringify(notebook));
    const result = await runProcess(process.execPath, [cli, "run", input]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cell 1 failed: Error: shown on purpose \(allowed: tagged raises-exception\)/);
    assert.match(result.stderr, /cell 2 skipped \(tagged skip-execution\)/);
    assert.match(result.stderr, /cell 4 failed: Error: real failure/);
    const executed = await readFile(join(dir, "tagged.out.ipynb"), "utf8");
    assert.deepEqual(outputTexts(executed), [["Error: shown on purpose"], ["saved earlier\n"], ["runs\n"], ["Error: real failure"], []]);
    assert.equal((JSON.parse(executed) as { cells: Array<{ execution_count: number | null }> }).cells[1]!.execution_count, 7);
  });
});

test("a cell over --timeout is interrupted, the run fails with 124 and keeps earlier outputs", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "slow.ipynb");
    await writeFile(input, makeNotebook(['console.log("quick")', "while (true) {}"]));
    const result = await runProcess(process.execPath, [cli, "run", input, "--timeout", "2"], { timeoutMs: 30_000 });
    assert.equal(result.code, 124, result.stderr);
    assert.match(result.stderr, /cell 2 timed out after 2 s/);
    assert.ok(result.durationMs < 15_000, `took ${result.durationMs} ms`);
    const texts = outputTexts(await readFile(join(dir, "slow.out.ipynb"), "utf8"));
    assert.deepEqual(texts[0], ["quick\n"]);
  });
});

test("a file that is not JSON or not nbformat 4 is a clear error and is left as it was", async () => {
  await withDir(async (dir) => {
    const broken = join(dir, "broken.ipynb");
    await writeFile(broken, '{"cells": [');
    const result = await runProcess(process.execPath, [cli, "run", broken]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /broken\.ipynb: not valid JSON/);
    assert.equal(await readFile(broken, "utf8"), '{"cells": [');
    const old = join(dir, "old.ipynb");
    await writeFile(old, JSON.stringify({ nbformat: 3, worksheets: [] }));
    const oldResult = await runProcess(process.execPath, [cli, "run", old]);
    assert.equal(oldResult.code, 2);
    assert.match(oldResult.stderr, /nbformat 3 is not supported/);
    assert.equal(await readFile(old, "utf8"), JSON.stringify({ nbformat: 3, worksheets: [] }));
    assert.deepEqual((await readdir(dir)).sort(), ["broken.ipynb", "old.ipynb"], "no executed copy is written for a notebook that cannot run");
  });
});

test("a missing notebook and bad arguments exit with 2 and say why", async () => {
  const missing = await runProcess(process.execPath, [cli, "run", "/nonexistent/nb.ipynb"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such notebook/);
  const noValue = await runProcess(process.execPath, [cli, "run", "x.ipynb", "-p", "lr"]);
  assert.equal(noValue.code, 2);
  assert.match(noValue.stderr, /-p needs a NAME and a VALUE/);
  const badTimeout = await runProcess(process.execPath, [cli, "run", "x.ipynb", "--timeout", "soon"]);
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.stderr, /--timeout must be a positive number/);
});
