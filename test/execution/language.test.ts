import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { openNotebook, resultText, type TestNotebook } from "./helpers.js";

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

  it("warn mode runs the cell and reports type errors on its stderr afterwards", async () => {
    const outcome = await warn.run("const typed: number = 'text'\ntyped");
    assert.equal(resultText(outcome), "'text'");
    await warn.waitFor(() => warn.streamOf(outcome.cellId, "stderr").includes("TS2322"), 30_000);
    assert.match(warn.streamOf(outcome.cellId, "stderr"), new RegExp(`In\\[${outcome.cellId.slice(1)}\\] line 1:7 - error TS2322: Type 'string' is not assignable to type 'number'`));
    const redeclared = await warn.run("const typed = 'redeclared is fine'\ntyped.length");
    assert.equal(resultText(redeclared), "18");
    const clean = await warn.run("const fine: string = typed");
    // Checks run in order: once this cell's warning is out, the two before it were checked.
    const marker = await warn.run("const marker: boolean = 1");
    await warn.waitFor(() => warn.streamOf(marker.cellId, "stderr").includes("TS2322"), 30_000);
    assert.equal(warn.streamOf(clean.cellId, "stderr"), "");
    assert.equal(warn.streamOf(redeclared.cellId, "stderr"), "");
  });

  it("warn mode checks a run of cells only once it is over, each cell against the cells before it", async () => {
    const burst = await openNotebook({ typeCheck: "warn", typeCheckIdleDelayMs: 400 });
    try {
      const first = await burst.run("let count = 1");
      const misuse = await burst.run("const label: string = count");
      // Redeclared later with another type: the check of `misuse`, run after this cell, must still
      // see `count` as the number it was when `misuse` ran.
      await burst.run("const count = 'now a string'");
      for (let index = 0; index < 30; index++) await burst.run(`const filler${index} = ${index}`);
      assert.ok(!burst.logs.some((line) => line.includes("language service ready")), "the language service did not start during the run");
      assert.equal(burst.streamOf(misuse.cellId, "stderr"), "");
      await burst.waitFor(() => burst.streamOf(misuse.cellId, "stderr").includes("TS2322"), 30_000);
      assert.match(burst.streamOf(misuse.cellId, "stderr"), /Type 'number' is not assignable to type 'string'/);
      assert.equal(burst.streamOf(first.cellId, "stderr"), "");
    } finally {
      await burst.close();
    }
  });

  it("warn mode checks a long cell while it runs, so its warning comes before its reply", async () => {
    const long = await openNotebook({ typeCheck: "warn", typeCheckIdleDelayMs: 100 });
    try {
      await long.executor.complete("Mat", 3); // the language service is up before the cell
      const outcome = await long.run("const slow: number = 'late'\nawait new Promise((resolve) => setTimeout(resolve, 5000))");
      assert.equal(outcome.status, "ok");
      assert.match(long.streamOf(outcome.cellId, "stderr"), /TS2322/, "the warning arrived while the cell ran");
    } finally {
      await long.close();
    }
  });

  it("auto mode checks cells only while the language service runs, which a completion starts", async () => {
    const auto = await openNotebook({ typeCheck: "auto", typeCheckIdleDelayMs: 100 });
    try {
      const early = await auto.run("const early: number = 'not checked'");
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.ok(!auto.logs.some((line) => line.includes("language service ready")), "no check starts the language service");
      assert.equal(auto.streamOf(early.cellId, "stderr"), "");
      const names = await auto.executor.complete("ear", 3);
      assert.equal(names.matches[0], "early");
      const later = await auto.run("const later: number = 'checked'");
      await auto.waitFor(() => auto.streamOf(later.cellId, "stderr").includes("TS2322"), 30_000);
      assert.equal(auto.streamOf(early.cellId, "stderr"), "");
    } finally {
      await auto.close();
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
