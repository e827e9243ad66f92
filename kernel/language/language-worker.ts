/**
 * Entry point of the language worker thread: type checks every cell with the native TypeScript
 * compiler (falling back to the classic language service where it cannot start), and answers
 * completions and inspections with the classic language service, started by the first of them.
 * Requests are answered strictly in order.
 */
import { parentPort, workerData } from "node:worker_threads";
import { RingbookError } from "../../lib/errors.js";
import { NotebookLanguageService } from "./language-service.js";
import { IdleCollector } from "./idle-gc.js";
import { NativeChecker } from "./native-checker.js";
import { parseLanguageWorkerConfig, type CellDiagnostic, type FromLanguageWorker, type LanguageReply, type LanguageRequest, type ToLanguageWorker } from "./protocol.js";

if (!parentPort) throw new RingbookError("LANGUAGE_WORKER", "language-worker.js must run in a worker thread");
const port = parentPort;
const config = parseLanguageWorkerConfig(workerData);
/** Quiet time after the last request before the heap is collected. */
const collectAfterIdleMs = 1000;
const collector = new IdleCollector(collectAfterIdleMs);

/** What checks cells: the native compiler, or the classic service where it could not start. */
interface Checker {
  diagnose(code: string, contextCells?: number): CellDiagnostic[];
  commit(code: string): void;
  /** Work a request left that its reply need not wait for. */
  releaseRetired?(): void;
  close?(): Promise<void>;
}

async function startChecker(): Promise<{ checker: Checker; name: string }> {
  if (config.checker === "native") {
    try {
      return { checker: await NativeChecker.start(config), name: "native TypeScript 7 compiler" };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      post({ id: -1, ok: true, reply: { kind: "log", line: `native TypeScript compiler unavailable (${reason.split("\n")[0]}); type checks use the classic language service` } });
    }
  }
  const classic = new NotebookLanguageService(config);
  classic.diagnose("");
  return { checker: classic, name: "classic TypeScript language service" };
}

const { checker, name: checkerName } = await startChecker();

/** Executed cells, replayed into the classic service when a completion or inspection first needs it. */
const committed: string[] = [];
let classicService: NotebookLanguageService | undefined = checker instanceof NotebookLanguageService ? checker : undefined;

function classic(): NotebookLanguageService {
  if (classicService === undefined) {
    const started = performance.now();
    classicService = new NotebookLanguageService(config);
    for (const code of committed) classicService.commit(code);
    classicService.diagnose("");
    post({ id: -1, ok: true, reply: { kind: "log", line: `classic language service (completions, inspection) ready in ${Math.round(performance.now() - started)} ms` } });
  }
  return classicService;
}

function answer(request: LanguageRequest): LanguageReply {
  switch (request.kind) {
    case "commit":
      committed.push(request.code);
      checker.commit(request.code);
      if (classicService !== undefined && classicService !== checker) classicService.commit(request.code);
      return { kind: "commit" };
    case "diagnose":
      return { kind: "diagnose", diagnostics: checker.diagnose(request.code, request.contextCells) };
    case "complete":
      return { kind: "complete", result: classic().complete(request.code, request.cursor) };
    case "inspect":
      return { kind: "inspect", result: classic().inspect(request.code, request.cursor, request.detailLevel) };
    case "prepareCompletions":
      classic();
      return { kind: "prepareCompletions" };
    case "close":
      throw new RingbookError("LANGUAGE_REQUEST", "close is answered by the message handler");
    default: {
      const never: never = request;
      throw new RingbookError("LANGUAGE_REQUEST", `unknown language request ${JSON.stringify(never)}`);
    }
  }
}

function post(message: FromLanguageWorker): void {
  port.postMessage(message);
}

port.on("message", ({ id, request }: ToLanguageWorker) => {
  if (request.kind === "close") {
    // The last request: waits for the compiler's process to exit.
    void (checker.close?.() ?? Promise.resolve()).then(
      () => post({ id, ok: true, reply: { kind: "close" } }),
      (error: unknown) => post({ id, ok: false, message: error instanceof Error ? error.message : String(error) }),
    );
    return;
  }
  let message: FromLanguageWorker;
  try {
    message = { id, ok: true, reply: answer(request) };
  } catch (error) {
    message = { id, ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  post(message);
  try {
    checker.releaseRetired?.();
  } catch (error) {
    post({ id: -1, ok: true, reply: { kind: "log", line: `type checker: releasing snapshots failed: ${error instanceof Error ? error.message : String(error)}` } });
  }
  collector.touch();
});
collector.collectNow();
post({ id: 0, ok: true, reply: { kind: "log", line: `type checks by the ${checkerName}` } });
