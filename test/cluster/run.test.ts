/**
 * Running code on a warm cluster: functions with args and chosen ranks, TypeScript cells whose
 * declarations persist on the workers, output prefixed by rank, errors that name the rank and
 * keep the worker usable, values that cannot travel, and many runs without growth.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ClusterTaskError, launchCluster, RemoteTaskError, type Cluster } from "../../lib/index.js";
import { captureOutput } from "./helpers.js";

describe("running code on a cluster", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await launchCluster({ workers: 2 });
  });
  after(async () => {
    await cluster.close();
  });

  it("runs a function on every rank with structured-clone args and results", async () => {
    const results = await cluster.run(({ rank, worldSize, args, tf }) => ({ rank, worldSize, scaled: args.values.map((v: number) => v * (rank + 1)), backend: tf.getBackend(), map: new Map([[rank, args.when]]) }), {
      args: { values: [1, 2, 3], when: new Date(0) },
    });
    assert.deepEqual(results, [
      { rank: 0, worldSize: 2, scaled: [1, 2, 3], backend: "wasm", map: new Map([[0, new Date(0)]]) },
      { rank: 1, worldSize: 2, scaled: [2, 4, 6], backend: "wasm", map: new Map([[1, new Date(0)]]) },
    ]);
    const typed = await cluster.run(({ rank }) => new Float32Array([rank, 0.5]));
    assert.ok(typed[1] instanceof Float32Array);
    assert.deepEqual([...typed[1]], [1, 0.5]);
  });

  it("runs on chosen ranks only, and awaits async functions and tfjs work", async () => {
    assert.deepEqual(await cluster.run(({ rank }) => rank, { ranks: [1] }), [1]);
    const sums = await cluster.run(async ({ tf, rank }) => {
      const t = tf.tensor1d([1, 2, 3]).mul(rank + 1);
      const values = await t.data();
      t.dispose();
      return Array.from(values);
    });
    assert.deepEqual(sums, [
      [1, 2, 3],
      [2, 4, 6],
    ]);
  });

  it("streams output into the caller prefixed by rank, keeping lines whole", async () => {
    const { stdout, stderr } = await captureOutput(() =>
      cluster.run(({ rank }) => {
        process.stdout.write(`part of a line from ${rank} `);
        console.log("and its end");
        console.error(`warning from ${rank}`);
        console.log("line one\nline two");
      }),
    );
    for (const rank of [0, 1]) {
      assert.match(stdout, new RegExp(`^\\[rank ${rank}\\] part of a line from ${rank} and its end$`, "m"));
      assert.match(stdout, new RegExp(`^\\[rank ${rank}\\] line one\\n\\[rank ${rank}\\] line two$`, "m"));
      assert.match(stderr, new RegExp(`^\\[rank ${rank}\\] warning from ${rank}$`, "m"));
    }
    assert.doesNotMatch(stdout + stderr, /TensorFlow\.js in Node\.js/, "tfjs's start-up banner is not relayed");
  });

  it("lets tasks import modules without a warning about how ringbook compiles them; other warnings still print", async () => {
    const { stdout, stderr } = await captureOutput(async () => {
      const bases = await cluster.run(async () => (await import("node:path")).basename("/a/b.txt"));
      assert.deepEqual(bases, ["b.txt", "b.txt"]);
      await cluster.run(() => process.emitWarning("something to know", "UserWarning"));
      // Warnings are emitted on the next tick: let them print before the capture ends.
      await cluster.run(() => new Promise((resolve) => setTimeout(resolve, 20)));
    });
    assert.doesNotMatch(stdout + stderr, /ExperimentalWarning|USE_MAIN_CONTEXT_DEFAULT_LOADER/);
    assert.match(stderr, /^\[rank 0\] \(node:\d+\) UserWarning: something to know$/m);
  });

  it("runs TypeScript cells whose declarations persist on the workers", async () => {
    assert.deepEqual(await cluster.runCell("interface Point { x: number }\nconst p: Point = { x: rank * 10 };\nlet calls = 0;\np.x + 1"), [1, 11]);
    assert.deepEqual(await cluster.runCell("calls++;\nconst p = { x: -1 };\n[calls, p.x]"), [
      [1, -1],
      [1, -1],
    ]);
    assert.deepEqual(await cluster.runCell("await new Promise((resolve) => setTimeout(resolve, 5));\ncalls"), [1, 1]);
    assert.deepEqual(await cluster.runCell("const only: string = 'on rank 1'", { ranks: [1] }), [undefined]);
    assert.deepEqual(await cluster.runCell("typeof only"), ["undefined", "string"]);
  });

  it("fails with an error naming the rank and the remote stack, and the worker stays usable", async () => {
    const failure = await cluster
      .run(({ rank }) => {
        if (rank === 1) throw new TypeError(`bad input on ${rank}`);
        return rank;
      })
      .then(
        () => assert.fail("should reject"),
        (error: unknown) => error,
      );
    assert.ok(failure instanceof ClusterTaskError);
    assert.equal(failure.failures.length, 1);
    assert.equal(failure.failures[0]!.rank, 1);
    assert.ok(failure.failures[0]!.error instanceof RemoteTaskError);
    assert.match(failure.message, /^\[rank 1\] TypeError: bad input on 1$/);
    assert.match(failure.stack ?? "", /\[rank 1\]\s+at /);
    assert.deepEqual(failure.results, [0, undefined], "the other rank's result is kept");
    await assert.rejects(cluster.runCell("const broken: number = ;"), /\[rank 0\] CellSyntaxError/);
    assert.deepEqual(await cluster.run(({ rank }) => rank + 100), [100, 101]);
  });

  it("gives task code and cells the collectives between the workers", async () => {
    const sums = await cluster.run(async ({ rank, collectives }) => Array.from(await collectives.allReduce(new Float32Array([rank + 1, 10]))));
    assert.deepEqual(sums, [
      [3, 20],
      [3, 20],
    ]);
    const gathered = await cluster.runCell("const parts = await collectives.allGather(new Float32Array(rank + 1).fill(rank));\nparts.map((part) => Array.from(part))");
    assert.deepEqual(gathered, [
      [[0], [1, 1]],
      [[0], [1, 1]],
    ]);
    const broadcast = await cluster.run(async ({ rank, collectives }) => Array.from(await collectives.broadcast(rank === 1 ? new Float32Array([7, 8]) : undefined, 1)));
    assert.deepEqual(broadcast, [
      [7, 8],
      [7, 8],
    ]);
  });

  it("explains values that cannot travel", async () => {
    await assert.rejects(cluster.run(() => 1, { args: { callback: () => 1 } as never }), { code: "ERR_ARGS_NOT_CLONEABLE" });
    await assert.rejects(cluster.run(() => () => 1), /cannot be sent back.*Return plain data/s);
    await assert.rejects(cluster.run(1 as never), /cluster.run expects a function, got number/);
    await assert.rejects(cluster.run(() => 1, { ranks: [2] }), /rank 2 is not in this cluster of 2/);
  });

  it("answers 500 small runs in order without growing its pending state", async () => {
    for (let i = 0; i < 500; i++) {
      const [a, b] = await cluster.run(({ rank, args }) => rank + args, { args: i });
      assert.equal(a, i);
      assert.equal(b, i + 1);
    }
    const rows = cluster.describe();
    assert.deepEqual(
      rows.map((row) => row.state),
      ["ready", "ready"],
    );
  });
});
