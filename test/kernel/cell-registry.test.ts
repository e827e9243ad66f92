/**
 * The server's cellId → origin registry: bounded, the oldest forgotten first. A comm's origin is
 * added again at every message (see commOrigin): it must count as new each time, so that a busy
 * comm is not forgotten before cells that ended long ago.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CellRegistry } from "../../kernel/server/cell-registry.js";
import type { MessageHeader } from "../../kernel/protocol/wire-types.js";

function origin(msgId: string): { header: MessageHeader; ids: Buffer[] } {
  return { header: { msg_id: msgId, session: "s", username: "u", date: new Date(0).toISOString(), msg_type: "comm_msg", version: "5.3" }, ids: [] };
}

test("adding an id again makes it the newest: the oldest other id is forgotten first", () => {
  const cells = new CellRegistry(2);
  cells.add("comm:a", origin("m1"));
  cells.add("cell-1", origin("m2"));
  cells.add("comm:a", origin("m3"));
  cells.add("cell-2", origin("m4"));
  assert.equal(cells.get("cell-1"), undefined, "the oldest is forgotten");
  assert.equal(cells.get("comm:a")?.header.msg_id, "m3", "the comm's latest origin is kept");
  assert.equal(cells.get("cell-2")?.header.msg_id, "m4");
});

test("delete forgets one id and frees its place", () => {
  const cells = new CellRegistry(2);
  cells.add("comm:a", origin("m1"));
  cells.add("cell-1", origin("m2"));
  cells.delete("comm:a");
  cells.add("cell-2", origin("m3"));
  assert.equal(cells.get("comm:a"), undefined);
  assert.deepEqual([cells.get("cell-1")?.header.msg_id, cells.get("cell-2")?.header.msg_id], ["m2", "m3"]);
});
