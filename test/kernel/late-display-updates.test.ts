/**
 * Display updates a cell sends after it ended (a training run started in one cell and awaited in
 * a later one) go out under that cell's request, and their latest state once more under the next
 * cell that ends, before its reply: clients that follow a request only until its idle (nbclient)
 * apply it by display id. The publisher runs against a recording sender, the narrow seam it sends
 * through.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CellEventPublisher, type CellMessageSender } from "../../kernel/server/cell-event-publisher.js";
import { CellRegistry } from "../../kernel/server/cell-registry.js";
import type { MessageHeader, ParentHeader } from "../../kernel/protocol/wire-types.js";

function header(msgId: string): MessageHeader {
  return { msg_id: msgId, session: "s", username: "u", date: new Date(0).toISOString(), msg_type: "execute_request", version: "5.3" };
}

/** A publisher over a recording sender, with cells `c1`, `c2`, `c3` registered under requests `r1`... */
function setUp(): { publisher: CellEventPublisher; sent: Array<{ parent: string | undefined; msgType: string; displayId: unknown; text: unknown }> } {
  const sent: Array<{ parent: string | undefined; msgType: string; displayId: unknown; text: unknown }> = [];
  const sender: CellMessageSender = {
    publish(parent: ParentHeader, msgType: string, content: object) {
      const fields = content as { transient?: { display_id?: unknown }; data?: { "text/plain"?: unknown } };
      sent.push({ parent: "msg_id" in parent ? parent.msg_id : undefined, msgType, displayId: fields.transient?.display_id, text: fields.data?.["text/plain"] });
    },
    sendStdin: () => "input",
  };
  const cells = new CellRegistry();
  for (const n of [1, 2, 3]) cells.add(`c${n}`, { header: header(`r${n}`), ids: [] });
  return { publisher: new CellEventPublisher(sender, cells, () => undefined), sent };
}

const update = (id: string, text: string) => ({ kind: "display" as const, data: { "text/plain": text }, metadata: {}, displayId: id, update: true });

test("an update from an ended cell is sent under that cell, and its latest state again under the next cell's end", () => {
  const { publisher, sent } = setUp();
  publisher.cellStarted("c1");
  publisher.handle("c1", { kind: "display", data: { "text/plain": "starting" }, metadata: {}, displayId: "progress", update: false });
  publisher.cellEnded("c1", header("r1"), false);
  assert.deepEqual(sent.map((m) => [m.parent, m.msgType]), [["r1", "display_data"]], "nothing late yet, nothing repeated");

  publisher.cellStarted("c2");
  publisher.handle("c1", update("progress", "training: step 1"));
  publisher.handle("c1", update("progress", "done: step 2"));
  publisher.handle("c2", { kind: "stream", name: "stdout", text: "awaited\n" });
  sent.length = 0;
  publisher.cellEnded("c2", header("r2"), false);
  assert.deepEqual(sent, [{ parent: "r2", msgType: "update_display_data", displayId: "progress", text: "done: step 2" }], "the latest state, once, under the cell that ended");

  publisher.cellStarted("c3");
  sent.length = 0;
  publisher.cellEnded("c3", header("r3"), false);
  assert.deepEqual(sent, [], "repeated only once");
});

test("a cell's updates of its own displays are not repeated; a silent request leaves the repeat to the next cell", () => {
  const { publisher, sent } = setUp();
  publisher.cellStarted("c1");
  publisher.handle("c1", update("own", "mine"));
  sent.length = 0;
  publisher.cellEnded("c1", header("r1"), false);
  assert.deepEqual(sent, [], "an update sent while its cell ran is not late");

  // Late updates while no cell runs wait for the next cell; a silent one does not take them.
  publisher.handle("c1", update("own", "late"));
  publisher.cellStarted("c2");
  sent.length = 0;
  publisher.cellEnded("c2", header("r2"), true);
  assert.deepEqual(sent, []);
  publisher.cellStarted("c3");
  publisher.cellEnded("c3", header("r3"), false);
  assert.deepEqual(sent, [{ parent: "r3", msgType: "update_display_data", displayId: "own", text: "late" }]);
});
