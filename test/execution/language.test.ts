import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { openNotebook, resultText, type TestNotebook } from "./helpers.js";
import { descendantsOf, isRunning } from "../../lib/process/process-tree.js";

describe("executor language features", () => {
  let warn: TestNotebook;
  let strict: TestNotebook;
  before(async () => {
    warn = await openNotebook({ typeCheck: "warn" });
    strict = await openNotebook({ typeCheck: "error" });
  });
  after(async () => {
    await Promise.all([warn.close(), strict.close()]);
  });

  it("completes names from earlier cells, members after a dot and keywords, with the cursor span", async () => {
    await warn.run("const trainingLoss = 0.5\nconst config = { learningRate: 0.01, batchSize: 32 }");
    const names = await warn.executor.complete("trainingL", 9);
    assert.deepEqual([names.matches[0], names.cursorStart, names.cursorEnd], ["trainingLoss", 0, 9]);
    assert.equal(names.types?.[0]?.type, "const");
    const members = await warn.executor.complete("config.lea", 10);
    assert.deepEqual([members.matches, members.cursorStart, members.cursorEnd], [["learningRate"], 7, 10]);
    const afterDot = await warn.executor.complete("Math.", 5);
    assert.ok(afterDot.matches.includes("sqrt") && afterDot.cursorStart === 5);
    const keywords = await warn.executor.complete("retu", 4);
    assert.ok(keywords.matches.includes("return"));
  });

  it("inspects the identifier at the cursor with its type and docs", async () => {
    await warn.run("/** Scales a value. */\nfunction scale(value: number, factor = 2): number { return value * factor }");
    const found = await warn.executor.inspect("scale(3)", 2, 0);
    assert.equal(found.found, true);
    assert.match(String(found.data["text/plain"]), /function scale\(value: number, factor\?: number\): number/);
    assert.match(String(found.data["text/plain"]), /Scales a value\./);
    const nothing = await warn.executor.inspect("   ", 1, 0);
    assert.equal(nothing.found, false);
  });

  it("tells complete, incomplete and invalid code apart", async () => {
    const cases: Array<[string, string]> = [
      ["const a = 1", "complete"],
      ["function f() {", "incomplete"],
      ["const s = `line ${", "incomplete"],
      ["call(1,", "incomplete"],
      ["const t = 1 +", "incomplete"],
      ["/* open comment", "incomplete"],
      ["const = 3", "invalid"],
      ["1 +* 2", "invalid"],
      ["%%workers 2\nbody", "complete"],
    ];
    for (const [code, status] of cases) assert.equal((await warn.executor.isComplete(code)).status, status, code);
    const nested = await warn.executor.isComplete("if (x) {\n  while (y) {");
    assert.deepEqual(nested, { status: "incomplete", indent: "    " });
  });

  it("warn mode runs the cell and reports its type errors on its stderr before the cell ends", async () => {
    const outcome = await warn.run("const typed: number = 'text'\ntyped");
    assert.equal(resultText(outcome), "'text'");
    assert.match(warn.streamOf(outcome.cellId, "stderr"), new RegExp(`^In\\[${outcome.cellId.slice(1)}\\] line 1:7 - error TS2322: Type 'string' is not assignable to type 'number'\\.\\n$`));
    const redeclared = await warn.run("const typed = 'redeclared is fine'\ntyped.length");
    assert.equal(resultText(redeclared), "18");
    assert.equal(warn.streamOf(redeclared.cellId, "stderr"), "");
    const clean = await warn.run("const fine: string = typed");
    assert.equal(warn.streamOf(clean.cellId, "stderr"), "");
    assert.ok(warn.logs.some((line) => /language service ready in \d+ ms: type checks by the native TypeScript 7 compiler/.test(line)), warn.logs.join("\n"));
  });

  for (const typeChecker of ["native", "classic"] as const) {
    it(`checks each cell against the cells before it, with the ${typeChecker} checker`, async () => {
      const notebook = await openNotebook({ typeCheck: "warn", typeChecker });
      try {
        const cells: Array<[string, RegExp | ""]> = [
          ["let count = 1\nimport * as fs from 'node:fs'", ""],
          ["count = 2; count++; const label: string = count", /^In\[2\] line 1:27 - error TS2322: Type 'number' is not assignable to type 'string'\.\n$/],
          ["const count = 'now a string'", ""],
          ["const n: number = count", /^In\[4\] line 1:7 - error TS2322: Type 'string' is not assignable to type 'number'\.\n$/],
          ["fs.existsSync('/').valueOf()", ""],
          ["interface Point { x: number }\ntype Named = Point & { name: string }\nfunction make(): Named { return { x: 1, name: 'a' } }", ""],
          ["const made: Named = make(); const bad: Point = { x: 'no' }", /^In\[7\] line 1:50 - error TS2322: Type 'string' is not assignable to type 'number'\.\n$/],
          ["const { p1, p2: [p3] } = { p1: 1, p2: ['s'] }", ""],
          ["const fromPattern: number = p3", /TS2322: Type 'string' is not assignable to type 'number'/],
          ["class Box { open() { return 1 } }\nconst closeIt = (box: Box) => box.close()", /TS2339: Property 'close' does not exist on type 'Box'/],
          ["import { launchCluster } from 'ringbook'\ntypeof launchCluster", ""],
          ["const wrongOption = () => launchCluster({ workers: 'two' })", /TS2322: Type 'string' is not assignable to type 'number'/],
          ["const é: number = 'ü'", /^In\[13\] line 1:7 - error TS2322/],
        ];
        for (const [code, expected] of cells) {
          const outcome = await notebook.run(code);
          assert.equal(outcome.status, "ok", `${code}: ${JSON.stringify(outcome)}`);
          const stderr = notebook.streamOf(outcome.cellId, "stderr");
          if (expected === "") assert.equal(stderr, "", code);
          else assert.match(stderr, expected, code);
        }
      } finally {
        await notebook.close();
      }
    });
  }

  it("starts the classic language service for completions when JupyterLab's extension opens its comm, before the first Tab", async () => {
    const notebook = await openNotebook({ typeCheck: "warn" });
    try {
      await notebook.run("const preparedName = 1");
      assert.ok(!notebook.logs.some((line) => line.includes("classic language service")), "not started by cells");
      await notebook.executor.commOpen("comm-1", "ringbook.plotly", { protocol: 1 }, {});
      await notebook.waitFor(() => notebook.logs.some((line) => line.includes("classic language service (completions, inspection) ready")), 30_000);
      const names = await notebook.executor.complete("prepared", 8);
      assert.equal(names.matches[0], "preparedName");
    } finally {
      await notebook.close();
    }
  });

  it("runs the native compiler as a child process that close() stops, also while it is starting", async () => {
    const before = new Set(descendantsOf(process.pid).map((child) => child.pid));
    const notebook = await openNotebook({ typeCheck: "warn" });
    await notebook.run("const started: number = 1");
    const compilers = descendantsOf(process.pid).filter((child) => !before.has(child.pid));
    assert.equal(compilers.length, 1, "one native compiler process");
    await notebook.close();
    assert.deepEqual(compilers.filter(isRunning), []);
    const starting = await openNotebook({ typeCheck: "warn" });
    await starting.close();
    const deadline = Date.now() + 5000;
    while (descendantsOf(process.pid).some((child) => !before.has(child.pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(descendantsOf(process.pid).filter((child) => !before.has(child.pid)), [], "nothing left after closing while the checker started");
  });

  it("warn mode checks a long cell while it runs, and a late check still reaches its cell", async () => {
    const long = await openNotebook({ typeCheck: "warn" });
    try {
      const outcome = await long.run("const slow: number = 'late'\nawait new Promise((resolve) => setTimeout(resolve, 300))");
      assert.equal(outcome.status, "ok");
      assert.match(long.streamOf(outcome.cellId, "stderr"), /TS2322/);
    } finally {
      await long.close();
    }
    const impatient = await openNotebook({ typeCheck: "warn", typeCheckWaitMs: 1 });
    try {
      // The first cell ends before the checker has started; its errors follow.
      const outcome = await impatient.run("const early: number = 'checked anyway'");
      assert.equal(impatient.streamOf(outcome.cellId, "stderr"), "");
      await impatient.waitFor(() => impatient.streamOf(outcome.cellId, "stderr").includes("TS2322"), 30_000);
      assert.ok(impatient.logs.some((line) => line.includes("its errors will follow the cell")));
    } finally {
      await impatient.close();
    }
  });

  it("completes names of the first cell after hundreds of cells", async () => {
    const long = await openNotebook({ typeCheck: "off" });
    try {
      await long.run("const firstCellValue = { rate: 0.5 }");
      for (let index = 0; index < 300; index++) await long.run(`function step${index}(a: number): number { return a + ${index} }`);
      const names = await long.executor.complete("firstCell", 9);
      assert.deepEqual([names.matches[0], names.cursorStart, names.cursorEnd], ["firstCellValue", 0, 9]);
      const members = await long.executor.complete("firstCellValue.ra", 17);
      assert.deepEqual(members.matches, ["rate"]);
      const last = await long.executor.complete("step29", 6);
      assert.ok(last.matches.includes("step299"));
    } finally {
      await long.close();
    }
  });

  it("error mode refuses to run a cell with type errors", async () => {
    assert.equal((await strict.run("(globalThis as any).sideEffects = 0")).status, "ok");
    const refused = await strict.run("(globalThis as any).sideEffects++\nconst wrong: string = 42");
    assert.ok(refused.status === "error");
    assert.equal(refused.ename, "TypeScriptError");
    assert.match(refused.traceback.join("\n"), /line 2:7 - error TS2322/);
    assert.equal(resultText(await strict.run("(globalThis as any).sideEffects")), "0");
    assert.equal(resultText(await strict.run("import { display as d } from 'ringbook/display'\ndisplay.text('typed globals'); typeof d")), "'function'");
  });
});
