/**
 * The `ringbook.diagnostics` comm on the real kernel (dist/kernel/main.js in a child process),
 * driven over ZeroMQ by ringbook's Jupyter client as JupyterLab's extension drives it: open the
 * comm, send the edited cell's source, read the answer on IOPub. A type error is reported with its
 * range, correct code has none, names come from the cells that ran, and malformed messages get an
 * error reply while the comm (and the kernel) keep working.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { LocalKernel } from "../../kernel/client/local-kernel.js";
import { isJsonObject, type JsonObject } from "../../kernel/protocol/json-guards.js";
import type { WireMessage } from "../../kernel/protocol/wire-types.js";
import { makeTempDir } from "./helpers.js";

const target = "ringbook.diagnostics";

/** The content of every comm message and close the kernel published under one request. */
interface Answer {
  msgs: JsonObject[];
  closes: JsonObject[];
}

function collect(answer: Answer, commId: string): (message: WireMessage) => void {
  return (message) => {
    const content = message.content;
    if (!isJsonObject(content) || content["comm_id"] !== commId || !isJsonObject(content["data"])) return;
    if (message.header.msg_type === "comm_msg") answer.msgs.push(content["data"]);
    if (message.header.msg_type === "comm_close") answer.closes.push(content["data"]);
  };
}

describe("the ringbook.diagnostics comm on the real kernel", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let kernel: LocalKernel;
  let stderr = "";
  const commId = randomUUID();

  /** Opens a diagnostics comm with `data`; what the kernel published under the comm_open. */
  async function open(id: string, data: JsonObject): Promise<Answer> {
    const answer: Answer = { msgs: [], closes: [] };
    await kernel.client.notify("shell", "comm_open", { comm_id: id, target_name: target, data }, { onIopub: collect(answer, id), signal: AbortSignal.timeout(30_000) });
    return answer;
  }

  /** Sends one message on the comm; the kernel's single answer to it. */
  async function send(data: JsonObject): Promise<JsonObject> {
    const answer: Answer = { msgs: [], closes: [] };
    await kernel.client.notify("shell", "comm_msg", { comm_id: commId, data }, { onIopub: collect(answer, commId), signal: AbortSignal.timeout(30_000) });
    assert.equal(answer.msgs.length, 1, `one answer to ${JSON.stringify(data)}, got ${JSON.stringify(answer)}\nkernel log:\n${stderr.slice(-2000)}`);
    assert.deepEqual(answer.closes, [], "the comm stays open");
    return answer.msgs[0]!;
  }

  async function execute(code: string): Promise<void> {
    const { reply } = await kernel.client.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, { signal: AbortSignal.timeout(30_000) });
    assert.ok(isJsonObject(reply.content) && reply.content["status"] === "ok", `cell ${JSON.stringify(code)} failed: ${JSON.stringify(reply.content)}`);
  }

  before(async () => {
    temp = await makeTempDir("editor-diagnostics");
    // The default mode, whatever the environment running the tests says.
    kernel = await LocalKernel.start({ cwd: temp.path, env: { RINGBOOK_TYPE_CHECK: "warn" }, onStderr: (text) => (stderr += text) });
    const opened = await open(commId, { protocol: 1 });
    assert.deepEqual(opened, { msgs: [], closes: [] }, "the comm opens silently");
  });

  after(async () => {
    await kernel?.close();
    await temp?.remove();
  });

  test("a type error is reported with its range, code and message; correct code has none; nothing runs", async () => {
    const wrong = await send({ type: "check", cell: "cell-a", version: 1, source: "const typed: string = 5;" });
    assert.deepEqual(wrong, {
      type: "diagnostics",
      cell: "cell-a",
      version: 1,
      diagnostics: [{ line: 1, column: 7, endLine: 1, endColumn: 12, severity: "error", code: 2322, message: "Type 'number' is not assignable to type 'string'." }],
    });
    const fixed = await send({ type: "check", cell: "cell-a", version: 2, source: 'const typed: string = "5";' });
    assert.deepEqual(fixed, { type: "diagnostics", cell: "cell-a", version: 2, diagnostics: [] });
    const magic = await send({ type: "check", cell: "cell-m", version: 3, source: "%%bash\necho $((1 + 2))" });
    assert.deepEqual(magic.diagnostics, [], "a cell magic is not TypeScript");
    // Checked, not run: the name `typed` was never declared in the kernel.
    const results: unknown[] = [];
    const onIopub = (message: WireMessage): void => {
      if (message.header.msg_type === "execute_result" && isJsonObject(message.content) && isJsonObject(message.content["data"])) results.push(message.content["data"]["text/plain"]);
    };
    await kernel.client.request("shell", "execute_request", { code: "typeof typed", silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true }, { onIopub, signal: AbortSignal.timeout(30_000) });
    assert.deepEqual(results, ["'undefined'"]);
  });

  test("a cell is checked after the cells that ran: their names and types are known", async () => {
    const before = await send({ type: "check", cell: "cell-b", version: 4, source: "const n: number = trainedSteps;" });
    assert.deepEqual(
      before.diagnostics,
      [{ line: 1, column: 19, endLine: 1, endColumn: 31, severity: "error", code: 2304, message: "Cannot find name 'trainedSteps'." }],
      "a name no cell declared yet",
    );
    await execute('const trainedSteps = "many";');
    const stringValue = await send({ type: "check", cell: "cell-b", version: 5, source: "const n: number = trainedSteps;" });
    assert.deepEqual(stringValue.diagnostics, [{ line: 1, column: 7, endLine: 1, endColumn: 8, severity: "error", code: 2322, message: "Type 'string' is not assignable to type 'number'." }]);
    const used = await send({ type: "check", cell: "cell-b", version: 6, source: "const n: number = trainedSteps.length;\nn.toFixed(2);" });
    assert.deepEqual(used.diagnostics, []);
  });

  test("a cell run as it was checked reports the editor's check; after another cell ran, it is checked again", async () => {
    /** Runs `code`; what it printed on stderr. */
    async function stderrOf(code: string): Promise<string> {
      let text = "";
      const onIopub = (message: WireMessage): void => {
        if (message.header.msg_type === "stream" && isJsonObject(message.content) && message.content["name"] === "stderr" && typeof message.content["text"] === "string") text += message.content["text"];
      };
      await kernel.client.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, { onIopub, signal: AbortSignal.timeout(30_000) });
      return text;
    }
    const code = "const runLabel: number = editedLabel;";
    const checked = await send({ type: "check", cell: "cell-r", version: 1, source: code });
    assert.deepEqual(checked.diagnostics, [{ line: 1, column: 26, endLine: 1, endColumn: 37, severity: "error", code: 2304, message: "Cannot find name 'editedLabel'." }]);
    const ran = await stderrOf(code);
    assert.match(ran, /line 1:26 - error TS2304: Cannot find name 'editedLabel'\./);
    assert.equal(ran.match(/error TS/g)?.length, 1, ran);
    // Checked again while the cell above is committed: its declaration is now known.
    const again = await send({ type: "check", cell: "cell-r", version: 2, source: "const otherLabel: number = editedLabel;" });
    assert.deepEqual(again.diagnostics, [{ line: 1, column: 28, endLine: 1, endColumn: 39, severity: "error", code: 2304, message: "Cannot find name 'editedLabel'." }]);
    await execute('const editedLabel = "declared";');
    // The editor's check above was made before `editedLabel` existed: the run checks anew.
    assert.match(await stderrOf("const otherLabel: number = editedLabel;"), /line 1:7 - error TS2322: Type 'string' is not assignable to type 'number'\./);
  });

  test("malformed messages get an error reply saying what is wrong, and the comm keeps answering", async () => {
    const cases: Array<[JsonObject, RegExp]> = [
      [{ type: "lint", cell: "c", version: 1, source: "" }, /unknown diagnostics message type "lint"/],
      [{ cell: "c", version: 1, source: "" }, /unknown diagnostics message type undefined/],
      [{ type: "check", cell: "", version: 1, source: "" }, /"cell" must be a non-empty string/],
      [{ type: "check", cell: "c", version: -1, source: "" }, /"version" must be a non-negative integer, got -1/],
      [{ type: "check", cell: "c", version: 1.5, source: "" }, /"version" must be a non-negative integer, got 1\.5/],
      [{ type: "check", cell: "c", version: 1, source: 42 }, /"source" must be a string, got 42/],
      [{ type: "check", cell: "c", version: 1, source: "", extra: true }, /unknown field\(s\) "extra"/],
    ];
    for (const [data, expected] of cases) {
      const answer = await send(data);
      assert.equal(answer["type"], "error", JSON.stringify(answer));
      assert.match(String(answer["message"]), expected);
    }
    const echoed = await send({ type: "check", cell: "c9", version: 9, source: null });
    assert.deepEqual([echoed["cell"], echoed["version"]], ["c9", 9], "the failed request's cell and version come back");
    const still = await send({ type: "check", cell: "cell-c", version: 10, source: "let s: string = 1;" });
    assert.ok(Array.isArray(still["diagnostics"]) && still["diagnostics"].length === 1, `the comm still answers: ${JSON.stringify(still)}`);
  });

  test("a comm opened with another protocol version is closed with the reason", async () => {
    const other = randomUUID();
    const answer = await open(other, { protocol: 99 });
    assert.equal(answer.closes.length, 1, JSON.stringify(answer));
    assert.match(String(answer.closes[0]!["error"]), /speaks diagnostics protocol 1, the front end asked for 99/);
    const { reply } = await kernel.client.request("shell", "comm_info_request", { target_name: target });
    assert.ok(isJsonObject(reply.content) && isJsonObject(reply.content["comms"]));
    assert.deepEqual(Object.keys(reply.content["comms"]), [commId], "only the accepted comm is open");
  });

  test("a kernel with type checks off closes the comm and says why", async () => {
    const off = await LocalKernel.start({ cwd: temp.path, env: { RINGBOOK_TYPE_CHECK: "off" } });
    try {
      const id = randomUUID();
      const answer: Answer = { msgs: [], closes: [] };
      await off.client.notify("shell", "comm_open", { comm_id: id, target_name: target, data: { protocol: 1 } }, { onIopub: collect(answer, id), signal: AbortSignal.timeout(30_000) });
      assert.equal(answer.closes.length, 1, JSON.stringify(answer));
      assert.match(String(answer.closes[0]!["error"]), /type checks are off/);
    } finally {
      await off.close();
    }
  });
});
