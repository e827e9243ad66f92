/**
 * Every code a {@link RingbookError} carries, grouped by where it is thrown. One list, so that a
 * code is a checked name rather than a free string; tests and callers branch on these, never on
 * messages. A new error adds its code here. (Two spellings survive from before the list: most codes
 * start with `ERR_`, the kernel's internal ones and the protocol's do not; they are kept as they
 * are because callers and tests already match them.)
 */
export const ERROR_CODES = [
  // cancellation, shared by the collectives and the kernel client
  "ERR_ABORTED",
  // lib/async-queue
  "ERR_QUEUE_FULL",
  // lib/backend
  "ERR_BACKEND",
  "ERR_BLAS_BACKEND",
  "ERR_NO_BACKEND",
  "ERR_WASM_INTERNALS",
  "WASM_BACKEND",
  "WASM_KERNEL",
  // lib/transport
  "ERR_BAD_CURVE_KEYS",
  "ERR_BAD_SECRET",
  "ERR_IPC_DIR",
  "ERR_IPC_NAME",
  "ERR_MUNGE",
  "ERR_NO_CURVE",
  "ERR_ZAP_BIND",
  "ERR_ZAP_DOMAIN",
  // lib/collectives
  "ERR_BAD_ARGUMENT",
  "ERR_BAD_ENDPOINTS",
  "ERR_BAD_FRAME",
  "ERR_BAD_HELLO",
  "ERR_BAD_RANK",
  "ERR_BAD_WORLD",
  "ERR_COLLECTIVE_MISMATCH",
  "ERR_MESH_BIND",
  "ERR_MESH_BUSY",
  "ERR_MESH_CLOSED",
  "ERR_MESH_STATE",
  "ERR_PEER_CLOSED",
  "ERR_PEER_HANDSHAKE",
  "ERR_PEER_LOST",
  // lib/data, lib/io
  "ERR_BAD_INDEX",
  "ERR_BAD_DATA",
  "ERR_BAD_MODEL_JSON",
  "ERR_MODEL_NOT_FOUND",
  "ERR_MODEL_SAVE",
  "ERR_MODEL_WEIGHTS",
  "ERR_NOT_A_MODEL",
  "ERR_NOT_VARIABLES",
  "ERR_SAVE_TARGET",
  // lib/training
  "ERR_BAD_CHECKPOINT",
  "ERR_BAD_DATASET",
  "ERR_BAD_FUNCTION",
  "ERR_BAD_LEARNING_RATE",
  "ERR_BAD_LOSS",
  "ERR_BAD_MODEL",
  "ERR_BAD_OPTIMIZER",
  "ERR_BAD_OPTION",
  "ERR_BAD_STEP",
  "ERR_BAD_TRAIN_OPTIONS",
  "ERR_BAD_VALIDATION_DATA",
  "ERR_CHECKPOINT",
  "ERR_CHECKPOINT_MISMATCH",
  "ERR_DATA_DIFFERS",
  "ERR_DATA_SHAPE",
  "ERR_DATA_STRUCTURE",
  "ERR_EARLY_STOPPING",
  "ERR_ENDLESS_DATASET",
  "ERR_EVALUATE_SETUP",
  "ERR_FUNCTION_CLOSURE",
  "ERR_LOSS_OUTPUTS",
  "ERR_METRIC_OUTPUTS",
  "ERR_MODEL_MISMATCH",
  "ERR_MODEL_NOT_BUILT",
  "ERR_NO_MODEL",
  "ERR_PARAMETER_MEMORY",
  "ERR_SHARD_MISMATCH",
  "ERR_STREAM_SHUFFLE",
  "ERR_TRAIN_SETUP",
  "ERR_UNKNOWN_LOSS",
  "ERR_UNKNOWN_METRIC",
  "ERR_UNKNOWN_OPTIMIZER",
  "ERR_UNKNOWN_OPTION",
  // lib/cluster (and task payloads checked in lib/training)
  "ERR_ARGS_NOT_CLONEABLE",
  "ERR_BAD_BOOTSTRAP",
  "ERR_BAD_MAGIC",
  "ERR_BAD_PAYLOAD",
  "ERR_BAD_RANKS",
  "ERR_BAD_RESULT",
  "ERR_BAD_TASK",
  "ERR_BOOTSTRAP_EOF",
  "ERR_BOOTSTRAP_TIMEOUT",
  "ERR_CALLBACK",
  "ERR_CLUSTER_BUSY",
  "ERR_CLUSTER_CLOSED",
  "ERR_CLUSTER_MESSAGE",
  "ERR_CLUSTER_TASK",
  "ERR_LAUNCHER_CLOSED",
  "ERR_SLURM",
  "ERR_SLURM_PLACEMENT",
  "ERR_UNREACHABLE",
  "ERR_SHARED_MEMORY",
  "ERR_DUPLICATE_WAIT",
  "ERR_INTERRUPTED",
  "ERR_MESH_GENERATION",
  "ERR_MISSING_PAYLOAD",
  "ERR_NO_CLUSTER",
  "ERR_NO_MESH",
  "ERR_NO_OUTCOME",
  "ERR_NO_RANKS",
  "ERR_PEER_DIED",
  "ERR_REMOTE_TASK",
  "ERR_TASK_KIND",
  "ERR_TASK_NOT_FUNCTION",
  "ERR_TASK_OUTCOME",
  "ERR_TRAIN_RESULT",
  "ERR_WORKER_DIED",
  "ERR_WORKER_GONE",
  "ERR_WORKER_START",
  "ERR_WORKER_THREAD",
  "ERR_WORKER_TIMEOUT",
  "ERR_WORKER_UNAVAILABLE",
  // lib/notebook-host
  "ERR_BAD_NOTEBOOK_HOST",
  // lib/plots
  "ERR_BAD_SERIES",
  "ERR_PLOT_FINISHED",
  // lib/script, lib/threads
  "CELL_PATTERN",
  "CELL_SYNTAX",
  "INSPECTOR_ATTACH",
  "INSPECTOR_CLOSED",
  "INSPECTOR_SEND",
  // kernel/protocol: input from outside that does not match the wire spec
  "PROTOCOL_FRAMES",
  "PROTOCOL_SIGNATURE",
  "PROTOCOL_JSON",
  "PROTOCOL_HEADER",
  "PROTOCOL_CONTENT",
  "PROTOCOL_TOO_LARGE",
  "PROTOCOL_CONNECTION_FILE",
  // kernel/sockets, kernel/server
  "ERR_SOCKETS_CLOSED",
  "ERR_SOCKETS_RECEIVING",
  "KERNEL_CLOSED",
  // kernel/execution
  "CELL_RUNTIME",
  "CELL_WORKER",
  "EXECUTE_OVERLAP",
  "EXECUTOR_CLOSED",
  "EXECUTOR_OPTIONS",
  "STDIN_ABANDONED",
  "STDIN_NOT_ALLOWED",
  "STDIN_NO_CELL",
  "UNKNOWN_MAGIC",
  "WORKER_CALL",
  "WORKER_CONFIG",
  "WORKER_GONE",
  "WORKER_MESSAGE",
  "WORKER_START",
  // kernel/language
  "LANGUAGE_CLOSED",
  "LANGUAGE_EXITED",
  "LANGUAGE_FAILED",
  "LANGUAGE_REPLY",
  "LANGUAGE_REQUEST",
  "LANGUAGE_WORKER",
  "NATIVE_CHECKER",
  // kernel/client, kernel/notebook, kernel/cli
  "ERR_NO_REPLY",
  "ERR_BAD_REPLY",
  "ERR_CLIENT_CLOSED",
  "ERR_KERNEL_DIED",
  "ERR_SERVER",
  "ERR_BAD_PARAMETER",
  "ERR_NOTEBOOK_FORMAT",
  "ERR_NOTEBOOK_MISSING",
  "ERR_NOTEBOOK_READ",
  "CLI_USAGE",
  // bench/ and test fixtures
  "BENCH_BAD_ARGUMENT",
  "BENCH_COMMAND_FAILED",
  "BENCH_DRIVER_FAILED",
  "BENCH_DRIVER_OUTPUT",
  "BENCH_INTERRUPTED",
  "BENCH_NOTHING_TO_RUN",
  "BENCH_ORPHANS",
  "BENCH_SPEC_INVALID",
  "BENCH_SPEC_MISSING",
  "BENCH_SPEC_NOT_PRIVATE",
  "BENCH_UNKNOWN_KERNEL",
  "ERR_TEST_FAILED_PEER",
] as const;

/** A code of a {@link RingbookError}: one of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const knownCodes: ReadonlySet<string> = new Set(ERROR_CODES);

/** True when `value` is one of ringbook's error codes (for a code read from an unknown error). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && knownCodes.has(value);
}

/**
 * Base class for ringbook's errors: a stable `code` to branch on, and a message that carries the
 * offending value and the state it was met in.
 *
 * @example
 * throw new RingbookError("ERR_BAD_RANK", `rank must be an integer in [0, 4), got ${rank}`);
 */
export class RingbookError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
