import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileCell, compileScript } from "../../lib/script/index.js";
import { toMimeBundle } from "../../kernel/display/mime-bundle.js";
import { warmUpCompiler } from "../../kernel/execution/compiler-warmup.js";

describe("compiler warm-up", () => {
  it("compiles every sample (with and without JSX) and formats values until its budget is spent, in slices", async () => {
    for (const jsx of [undefined, { runtime: "automatic" as const }]) {
      const failures: string[] = [];
      let slices = 0;
      const result = await warmUpCompiler({
        compile: (source) => {
          try {
            compileScript(compileCell(source, jsx ? { moduleAliases: {}, jsx } : { moduleAliases: {} }), { filename: "/tmp/__warmup__" });
          } catch (error) {
            failures.push(`${source.split("\n")[0]}: ${(error as Error).message}`);
          }
        },
        format: (value) => void toMimeBundle(value),
        shouldStop: () => false,
        schedule: (next) => {
          slices++;
          setImmediate(next);
        },
        budgetMs: 40,
        sliceMs: 2,
      });
      assert.deepEqual(failures, []);
      assert.equal(result.stopped, "budget");
      assert.ok(result.compiles >= 15, `every sample at least once, got ${result.compiles} compiles`);
      assert.ok(result.spentMs >= 40 && slices >= 10, `${slices} slices for ${result.spentMs} ms`);
    }
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
