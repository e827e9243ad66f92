/** Entry point of the language-service worker thread: answers requests strictly in order. */
import { parentPort, workerData } from "node:worker_threads";
import { RingbookError } from "../../lib/errors.js";
import { NotebookLanguageService } from "./language-service.js";
import { lowerThisThreadPriority } from "./thread-priority.js";
import { IdleCollector } from "./idle-gc.js";
import type { FromLanguageWorker, LanguageReply, LanguageRequest, LanguageWorkerConfig, ToLanguageWorker } from "./protocol.js";

if (!parentPort) throw new RingbookError("LANGUAGE_WORKER", "language-worker.js must run in a worker thread");
const port = parentPort;
lowerThisThreadPriority();
const service = new NotebookLanguageService(workerData as LanguageWorkerConfig);
/** Quiet time after the last request before the heap is collected. */
const collectAfterIdleMs = 1000;
const collector = new IdleCollector(collectAfterIdleMs);

function answer(request: LanguageRequest): LanguageReply {
  switch (request.kind) {
    case "commit":
      service.commit(request.code);
      return { kind: "commit" };
    case "diagnose":
      return { kind: "diagnose", diagnostics: service.diagnose(request.code, request.contextCells) };
    case "complete":
      return { kind: "complete", result: service.complete(request.code, request.cursor) };
    case "inspect":
      return { kind: "inspect", result: service.inspect(request.code, request.cursor, request.detailLevel) };
    default: {
      const never: never = request;
      throw new RingbookError("LANGUAGE_REQUEST", `unknown language request ${JSON.stringify(never)}`);
    }
  }
}

port.on("message", ({ id, request }: ToLanguageWorker) => {
  let message: FromLanguageWorker;
  try {
    message = { id, ok: true, reply: answer(request) };
  } catch (error) {
    message = { id, ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  port.postMessage(message);
  collector.touch();
});
// Warm up: build the program (lib and @types files) before the first real request.
service.diagnose("");
collector.collectNow();
port.postMessage({ id: 0, ok: true, reply: { kind: "commit" } } satisfies FromLanguageWorker);
