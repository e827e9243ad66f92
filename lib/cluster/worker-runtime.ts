/**
 * Entry point of a worker process's execution thread: the rank runtime (rank-runtime.ts) over the
 * port to the supervisor, from the bootstrap the supervisor passed as `workerData`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { RingbookError } from "../errors.js";
import { RankRuntime } from "./rank-runtime.js";
import { parseWorkerBootstrapValue } from "./worker-bootstrap.js";

if (!parentPort) throw new RingbookError("ERR_WORKER_THREAD", "worker-runtime.js must run in the worker process's execution thread");
const runtime = new RankRuntime(parseWorkerBootstrapValue(workerData), parentPort);
try {
  await runtime.start();
} catch {
  // Reported as startFailed: the supervisor exits the process when it sees it; keep the thread alive until then.
  await new Promise<never>(() => undefined);
}
