/**
 * Entry point of the cell worker thread: the cell runtime (cell-runtime.ts) over the port to the
 * executor, from the configuration the executor passed as `workerData`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { RingbookError } from "../../lib/errors.js";
import { CellRuntime } from "./cell-runtime.js";
import { parseCellWorkerConfig } from "./worker-protocol.js";

if (!parentPort) throw new RingbookError("CELL_WORKER", "cell-worker.js must run in a worker thread");
new CellRuntime(parseCellWorkerConfig(workerData), parentPort).start();
