import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AsyncQueue, QueueFullError, type QueueOverflow } from "../../lib/async-queue.js";

/** Lets every pending promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("AsyncQueue", () => {
  test("items come out in the order they went in, to a waiting taker as to a later one", async () => {
    const queue = new AsyncQueue<number>();
    const waiting = queue.take();
    queue.push(1);
    queue.push(2);
    await queue.put(3);
    assert.equal(await waiting, 1);
    assert.equal(await queue.take(), 2);
    assert.equal(await queue.take(), 3);
  });

  test("close lets the consumer drain what is queued, then ends iteration; later pushes are refused", async () => {
    const queue = new AsyncQueue<string>();
    queue.push("a");
    queue.push("b");
    queue.close();
    queue.close();
    assert.equal(queue.push("c"), false);
    const seen: string[] = [];
    for await (const item of queue) seen.push(item);
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(await queue.take(), undefined);
  });

  test("close releases a waiting taker with undefined; close with discard drops the queued items", async () => {
    const empty = new AsyncQueue<number>();
    const waiting = empty.take();
    empty.close();
    assert.equal(await waiting, undefined);
    const full = new AsyncQueue<number>();
    full.push(1);
    full.close({ discard: true });
    assert.equal(full.size, 0);
    assert.equal(await full.take(), undefined);
  });

  test("fail rejects a waiting take and every later one, queued items included", async () => {
    const queue = new AsyncQueue<number>();
    const waiting = queue.take();
    const error = new Error("producer failed");
    queue.fail(error);
    await assert.rejects(waiting, (thrown) => thrown === error);
    const other = new AsyncQueue<number>();
    other.push(1);
    other.fail(error);
    await assert.rejects(other.take(), (thrown) => thrown === error);
  });

  test("an aborted take rejects with the signal's reason and leaves no taker behind", async () => {
    const queue = new AsyncQueue<number>();
    const controller = new AbortController();
    const waiting = queue.take({ signal: controller.signal });
    controller.abort(new Error("stop waiting"));
    await assert.rejects(waiting, /stop waiting/);
    queue.push(7);
    assert.equal(await queue.take(), 7, "the aborted taker did not swallow the item");
    await assert.rejects(queue.take({ signal: AbortSignal.abort(new Error("already")) }), /already/);
  });

  test('"block": put waits while full, take makes room, an aborted put rejects and close releases a waiting put with false', async () => {
    const queue = new AsyncQueue<number>({ capacity: 1 });
    assert.equal(await queue.put(1), true);
    assert.throws(() => queue.push(2), QueueFullError);
    let accepted: boolean | undefined;
    const second = queue.put(2).then((value) => (accepted = value));
    await settle();
    assert.equal(accepted, undefined, "the second put waits while the queue is full");
    assert.equal(await queue.take(), 1);
    await second;
    assert.equal(accepted, true);
    assert.deepEqual(queue.pending(), [2]);
    const controller = new AbortController();
    const aborted = queue.put(3, { signal: controller.signal });
    controller.abort(new Error("no room"));
    await assert.rejects(aborted, /no room/);
    const released = queue.put(4);
    queue.close({ discard: true });
    assert.equal(await released, false);
  });

  test('"drop-oldest": a full queue drops its oldest item and reports every drop', async () => {
    const reports: Array<QueueOverflow<number>> = [];
    const queue = new AsyncQueue<number>({ capacity: 2, overflow: "drop-oldest", onOverflow: (overflow) => reports.push(overflow) });
    for (const item of [1, 2, 3, 4]) assert.equal(await queue.put(item), true);
    assert.deepEqual(queue.pending(), [3, 4]);
    assert.equal(queue.droppedCount, 2);
    assert.deepEqual(reports, [
      { dropped: 1, droppedCount: 1, capacity: 2 },
      { dropped: 2, droppedCount: 2, capacity: 2 },
    ]);
  });

  test('"error": a full queue refuses the item with an error naming its capacity and keeps what it holds', async () => {
    const queue = new AsyncQueue<number>({ capacity: 1, overflow: "error" });
    queue.push(1);
    assert.throws(() => queue.push(2), (error: unknown) => error instanceof QueueFullError && error.code === "ERR_QUEUE_FULL" && /1 items/.test(error.message));
    await assert.rejects(queue.put(2), QueueFullError);
    assert.deepEqual(queue.pending(), [1]);
  });

  test("a capacity that is not a positive integer is refused, quoting it", () => {
    assert.throws(() => new AsyncQueue({ capacity: 0 }), /got 0/);
    assert.throws(() => new AsyncQueue({ capacity: 1.5 }), /got 1.5/);
  });
});
