/**
 * Property tests (fast-check) of every parser that reads bytes from outside: Jupyter frames and
 * request contents, the cluster's control messages, the collectives' frame header, notebook files
 * and a notebook's tsconfig.json. Property: any input either parses or is refused with the
 * parser's own error type (which says what is wrong); nothing else is thrown, nothing hangs.
 * `FUZZ_RUNS` and `FUZZ_SEED` change the inputs (bench/fuzz.ts runs them for a given time).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { readRuntimeTsconfig } from "../../kernel/execution/tsconfig-options.js";
import { parseNotebook, NotebookFormatError } from "../../kernel/notebook/notebook-file.js";
import { parseFrames } from "../../kernel/protocol/frames.js";
import { ProtocolError } from "../../kernel/protocol/protocol-error.js";
import { parseFromWorker as parseFromCellThread } from "../../kernel/execution/worker-protocol.js";
import { RingbookError } from "../../lib/errors.js";
import { parseRequest } from "../../kernel/protocol/request-validators.js";
import { MessageSigner } from "../../kernel/protocol/signer.js";
import { ClusterMessageError, encodeFromWorker, encodeToWorker, parseFromWorker, parseToWorker } from "../../lib/cluster/messages.js";
import { BadPayloadError } from "../../lib/cluster/payload-fields.js";
import { parseWorkerEvaluateSpec, parseWorkerTrainSpec } from "../../lib/cluster/worker-spec-parser.js";
import { decodeHeader, encodeHeader, headerBytes } from "../../lib/collectives/frame-header.js";
import { linearWarmup } from "../../lib/training/learning-rate-schedule.js";
import { parseEvaluateOptions, parseTrainOptions } from "../../lib/training/train-spec.js";
import { toRank } from "../../lib/ids.js";
import { fuzzParameters } from "./fuzz-runs.js";

const signer = new MessageSigner("hmac-sha256", "fuzz-key");
const parameters = fuzzParameters();
const runs = parameters.numRuns;

/** JSON values up to a modest depth, with the strings and numbers parsers trip on. */
const json = fc.jsonValue({ maxDepth: 4 });
const requestTypes = ["execute_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "kernel_info_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", "shutdown_request", "interrupt_request", "input_reply", "frobnicate_request"];

function signedFrames(header: unknown, parent: unknown, metadata: unknown, content: unknown): Buffer[] {
  const parts = [header, parent, metadata, content].map((part) => Buffer.from(JSON.stringify(part) ?? "null"));
  return [Buffer.from("client"), Buffer.from("<IDS|MSG>"), Buffer.from(signer.sign(parts)), ...parts];
}

/** The containers of a spec (objects and arrays, not typed arrays), each with a way to replace one of its entries. */
function slotsOf(value: unknown): Array<(replacement: unknown) => void> {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return [];
  return Object.entries(value).flatMap(([key, entry]) => [(replacement: unknown) => void Reflect.set(value, key, replacement), ...slotsOf(entry)]);
}

/** fast-check makes records without a prototype; parsers make plain objects. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function expectOnly<E extends Error>(errorClass: new (...args: never[]) => E, body: () => unknown): void {
  try {
    body();
  } catch (error) {
    if (!(error instanceof errorClass)) throw new assert.AssertionError({ message: `expected ${errorClass.name} or success, got ${String(error)}`, actual: error, expected: errorClass });
    assert.ok(error.message.length > 0, "the error says what is wrong");
  }
}

describe("fuzzed boundaries", () => {
  test("kernel frames: random frames are refused with a ProtocolError, never anything else", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), { maxLength: 10 }), fc.boolean(), (frames, withDelimiter) => {
        const sent = withDelimiter ? [...frames.slice(0, 2), Buffer.from("<IDS|MSG>"), ...frames.slice(2)] : frames;
        expectOnly(ProtocolError, () => parseFrames(sent, signer));
      }),
      parameters,
    );
  });

  test("kernel frames: validly signed random JSON parts parse or are refused with a ProtocolError, and so are their contents", () => {
    const header = fc.record({ msg_id: fc.oneof(fc.uuid(), json), msg_type: fc.oneof(fc.constantFrom(...requestTypes), json), session: fc.oneof(fc.string(), json), username: fc.string(), date: fc.string(), version: fc.constantFrom("5.3", "5.0", 5) }, { requiredKeys: [] });
    const content = fc.oneof(
      json,
      fc.record({ code: fc.oneof(fc.string(), json), cursor_pos: fc.oneof(fc.integer({ min: -5, max: 200 }), json), silent: fc.oneof(fc.boolean(), json), store_history: json, user_expressions: json, allow_stdin: json, stop_on_error: json, detail_level: json, comm_id: json, target_name: json, data: json, value: json, hist_access_type: json, restart: json }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(header, fc.oneof(header, json), json, content, (h, parent, metadata, c) => {
        let received: ReturnType<typeof parseFrames> | undefined;
        expectOnly(ProtocolError, () => (received = parseFrames(signedFrames(h, parent, metadata, c), signer)));
        if (received !== undefined) {
          const { header: parsed, content: parsedContent } = received.message;
          expectOnly(ProtocolError, () => parseRequest(parsed.msg_type, parsedContent));
        }
      }),
      parameters,
    );
  });

  test("kernel frames: deeply nested JSON and huge strings are handled without a stack overflow", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const header = JSON.stringify({ msg_id: "m", msg_type: "comm_msg", session: "s", username: "", date: "", version: "5.3" });
    const parts = [header, "{}", "{}", `{"comm_id":"c","data":{"x":${deep}}}`].map((part) => Buffer.from(part));
    const frames = [Buffer.from("<IDS|MSG>"), Buffer.from(signer.sign(parts)), ...parts];
    const received = parseFrames(frames, signer);
    expectOnly(ProtocolError, () => parseRequest(received.message.header.msg_type, received.message.content));
    const big = parseRequest("execute_request", { code: "x".repeat(10_000_000) });
    assert.equal(big?.msg_type, "execute_request");
  });

  test("cluster control messages: random bytes and random headers are refused with a ClusterMessageError; every valid message round-trips", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), json.map((value) => Buffer.from(JSON.stringify(value) ?? ""))), (bytes) => {
        expectOnly(ClusterMessageError, () => parseToWorker(bytes));
        expectOnly(ClusterMessageError, () => parseFromWorker(bytes));
      }),
      parameters,
    );
    const toWorker = fc.oneof(
      fc.record({ type: fc.constant("interrupt" as const), taskId: fc.option(fc.string(), { nil: null }) }),
      fc.record({ type: fc.constant("ping" as const), seq: fc.nat() }),
      fc.record({ type: fc.constant("peers" as const), generation: fc.nat(), endpoints: fc.array(fc.string()) }),
      fc.record({ type: fc.constant("task" as const), taskId: fc.string(), task: fc.record({ kind: fc.constant("cell" as const), code: fc.string(), name: fc.string() }) }),
    );
    fc.assert(
      fc.property(toWorker, (message) => {
        assert.deepEqual(parseToWorker(encodeToWorker(message)), plain(message));
      }),
      parameters,
    );
    fc.assert(
      fc.property(fc.record({ type: fc.constant("pong" as const), seq: fc.nat(), busy: fc.boolean() }), fc.nat().map((rank) => toRank(rank)), fc.nat(), (message, rank, incarnation) => {
        assert.deepEqual(parseFromWorker(encodeFromWorker(message, { rank, incarnation })), plain({ ...message, rank, incarnation }));
      }),
      parameters,
    );
  });

  test("collective frame headers: random bytes, and valid headers with any byte changed, decode or give a reason; valid ones round-trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const decoded = decodeHeader(bytes);
        if (!decoded.ok) assert.ok(decoded.reason.length > 0);
      }),
      parameters,
    );
    const collective = fc.record({
      kind: fc.constantFrom("allReduce" as const, "broadcast" as const, "allGather" as const, "barrier" as const),
      dtype: fc.constantFrom("float32" as const),
      source: fc.nat({ max: 1023 }),
      sequence: fc.nat(),
      step: fc.nat(),
      chunk: fc.nat(),
      count: fc.nat(),
      total: fc.nat(),
    });
    const header = fc.oneof(
      collective,
      fc.record({ kind: fc.constant("hello" as const), source: fc.nat({ max: 1023 }), destination: fc.nat({ max: 1023 }), worldSize: fc.nat({ max: 1024 }) }),
      fc.record({ kind: fc.constant("bye" as const), source: fc.nat({ max: 1023 }), operations: fc.nat() }),
    );
    fc.assert(
      fc.property(header, fc.nat({ max: headerBytes - 1 }), fc.integer({ min: 0, max: 255 }), (value, index, byte) => {
        let encoded: Buffer;
        try {
          encoded = encodeHeader(value);
        } catch {
          return; // a header the encoder refuses (kinds or fields it checks) is not sent
        }
        const decoded = decodeHeader(encoded);
        assert.ok(decoded.ok, JSON.stringify(decoded));
        assert.deepEqual(decoded.header, plain(value));
        const mutated = Buffer.from(encoded);
        mutated[index] = byte;
        const again = decodeHeader(mutated);
        if (!again.ok) assert.ok(again.reason.length > 0);
      }),
      parameters,
    );
  });

  test("train and evaluate task arguments: random JSON, and real specs with any field replaced by random JSON, parse or are refused with a BadPayloadError", () => {
    const trainSpec = parseTrainOptions(
      {
        model: () => null,
        data: { xs: { a: [[1], [2]], b: new Float32Array([1, 2]) }, ys: [0, 1] },
        loss: { out: "meanSquaredError" },
        optimizer: { name: "adam", learningRate: linearWarmup({ learningRate: 1, warmupSteps: 2 }) },
        metrics: ["accuracy", function custom() { return 0; }],
        validationData: { builtin: "synthetic", size: 4 },
        validationEvery: { steps: 2 },
        earlyStopping: { monitor: "loss", patience: 1 },
        clipNorm: 1,
        checkpoint: "/tmp/fuzz",
        batchSize: 2,
      },
      2,
    );
    const evaluateSpec = parseEvaluateOptions({ builtin: "mnist" }, { steps: 1 }, 2, { metrics: [{ name: "accuracy" }], args: { n: 1 } });
    fc.assert(
      fc.property(json, fc.nat(), fc.boolean(), (value, slot, train) => {
        expectOnly(BadPayloadError, () => parseWorkerTrainSpec(value, "args"));
        expectOnly(BadPayloadError, () => parseWorkerEvaluateSpec(value, "args"));
        const spec = structuredClone(train ? trainSpec : evaluateSpec);
        const slots = slotsOf(spec);
        slots[slot % slots.length]?.(value);
        expectOnly(BadPayloadError, () => (train ? parseWorkerTrainSpec(spec, "args") : parseWorkerEvaluateSpec(spec, "args")));
      }),
      parameters,
    );
  });

  test("cell thread messages: random JSON, alone or as an event, outcome or reply, reads or is refused with a RingbookError", () => {
    const message = fc.oneof(
      json,
      fc.record({ type: fc.constantFrom("event", "outcome", "reply", "interruptAck", "shutdownDone"), cellId: fc.oneof(fc.string(), json), event: json, outcome: json, callId: fc.oneof(fc.nat(), json), ok: fc.oneof(fc.boolean(), json), value: json, message: json, seq: json, failures: json }, { requiredKeys: ["type"] }),
    );
    fc.assert(
      fc.property(message, (value) => {
        expectOnly(RingbookError, () => parseFromCellThread(value));
      }),
      parameters,
    );
  });

  test("notebook files: any JSON is a notebook or a NotebookFormatError that names the problem", () => {
    const cell = fc.record({ cell_type: fc.oneof(fc.constantFrom("code", "markdown", "raw"), json), source: fc.oneof(fc.string(), fc.array(fc.string()), json), metadata: fc.oneof(fc.object(), json), outputs: fc.oneof(fc.array(json), json), execution_count: fc.oneof(fc.nat(), fc.constant(null), json) }, { requiredKeys: [] });
    const notebook = fc.record({ nbformat: fc.oneof(fc.constant(4), json), nbformat_minor: fc.oneof(fc.nat({ max: 5 }), json), metadata: fc.oneof(fc.object(), json), cells: fc.oneof(fc.array(cell, { maxLength: 5 }), json) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(notebook, json), (value) => {
        expectOnly(NotebookFormatError, () => parseNotebook(value, "fuzz.ipynb"));
      }),
      parameters,
    );
  });

  test("tsconfig.json beside a notebook: any text gives the runtime options or the defaults, with a log line when it cannot be read", () => {
    const dir = mkdtempSync(join(tmpdir(), "ringbook-fuzz-tsconfig-"));
    try {
      const text = fc.oneof(
        fc.string(),
        json.map((value) => JSON.stringify(value) ?? ""),
        fc.record({ compilerOptions: fc.oneof(json, fc.record({ jsx: fc.oneof(fc.constantFrom("react", "react-jsx", "preserve"), json), jsxFactory: json, experimentalDecorators: json }, { requiredKeys: [] })) }).map((value) => `// comment\n${JSON.stringify(value, null, 2)},`),
      );
      fc.assert(
        fc.property(text, (content) => {
          writeFileSync(join(dir, "tsconfig.json"), content);
          const logs: string[] = [];
          const options = readRuntimeTsconfig(dir, (line) => logs.push(line));
          assert.equal(typeof options.experimentalDecorators, "boolean");
          assert.ok(logs.length <= 1);
        }),
        { ...parameters, numRuns: Math.min(runs, 300) },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
