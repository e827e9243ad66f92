import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileCell, compileScript } from "../../lib/script/index.js";
import { toMimeBundle } from "../../kernel/display/mime-bundle.js";
import { warmUpCompiler } from "../../kernel/execution/compiler-warmup.js";

describe("compiler warm-up", () => {
  it("compiles every sample without an error, with and without JSX settings", async () => {
    for (const jsx of [undefined, { runtime: "automatic" as const }]) {
      const failures: string[] = [];
      const sources = new Set<string>();
      const result = await warmUpCompiler({
        compile: (source) => {
          // Sources differ by a counter only: the sample is what is left without digits.
          sources.add(source.replace(/\d+/g, "N"));
          try {
            compileScript(compileCell(source, jsx ? { moduleAliases: {}, jsx } : { moduleAliases: {} }), { filename: "/tmp/__warmup__" });
          } catch (error) {
            failures.push(`${source.split("\n")[0]}: ${(error as Error).message}`);
          }
        },
        format: (value) => void toMimeBundle(value),
        // Stop on a count, not on time: a busy machine must not make this test flaky.
        shouldStop: () => sources.size >= 15,
        schedule: (next) => setImmediate(next),
        budgetMs: 60_000,
      });
      assert.deepEqual(failures, []);
      assert.equal(result.stopped, "cell");
      assert.equal(sources.size, 15);
    }
  });

  it("stops once its budget is spent, working in slices that let other tasks run", async () => {
    let slices = 0;
    const result = await warmUpCompiler({
      compile: () => {},
      format: () => {},
      shouldStop: () => false,
      schedule: (next) => {
        slices++;
        setImmediate(next);
      },
      budgetMs: 20,
      sliceMs: 2,
    });
    assert.equal(result.stopped, "budget");
    assert.ok(result.spentMs >= 20 && slices >= 2, `${slices} slices for ${result.spentMs} ms`);
  });

  it("stops before its next slice once told to, and lets other tasks run between slices", async () => {
    let stop = false;
    let otherTaskRan = false;
    setImmediate(() => {
      otherTaskRan = true;
      stop = true;
    });
    const result = await warmUpCompiler({
      compile: () => {},
      format: () => {},
      shouldStop: () => stop,
      schedule: (next) => setImmediate(next),
      budgetMs: 10_000,
      sliceMs: 1,
    });
    assert.equal(otherTaskRan, true);
    assert.equal(result.stopped, "cell");
    assert.ok(result.spentMs < 50, `stopped after ${result.spentMs} ms`);
  });
});
