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
    await warn.run("1");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(warn.streamOf(clean.cellId, "stderr"), "");
    assert.equal(warn.streamOf(redeclared.cellId, "stderr"), "");
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
