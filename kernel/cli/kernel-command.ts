import { parseArgs } from "node:util";
import { UsageError, type Command } from "./command.js";

const TYPE_CHECK_MODES = ["off", "warn", "error", "auto"] as const;
type TypeCheckMode = (typeof TYPE_CHECK_MODES)[number];

const usage = `Usage: ringbook kernel --connection-file FILE [--type-check warn|error|off]

Runs the kernel (Jupyter starts it this way through the kernelspec).
  -f, --connection-file FILE  the connection file written by the front end
  --type-check MODE           type errors in cells (also $RINGBOOK_TYPE_CHECK):
                              warn   (default) each cell is checked while it runs, by
                                     TypeScript 7's native compiler (about a millisecond a
                                     cell), and its type errors go to its stderr before it ends
                              error  a cell with type errors does not run
                              off    no checks (completions and inspection still work)
                              auto   a former name of warn`;

/** `ringbook kernel`: the kernel process itself (also what dist/kernel/main.js runs). */
export const kernelCommand: Command = {
  name: "kernel",
  summary: "run the kernel on a Jupyter connection file",
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args);
    if (values["connection-file"] === undefined) throw new UsageError("--connection-file is required");
    const typeCheck = parseTypeCheck(values["type-check"] ?? process.env["RINGBOOK_TYPE_CHECK"] ?? "warn");
    // Loaded only here, so that `ringbook install` loads neither ZeroMQ nor the executor; the
    // executor only once the sockets are bound (see runKernelProcess).
    const { runKernelProcess } = await loadKernelProcess();
    await runKernelProcess({
      connectionFile: values["connection-file"],
      startExecutor: async (log) => {
        const { startExecutor } = await import("../execution/index.js");
        return startExecutor({ cwd: process.cwd(), typeCheck, log });
      },
    });
    return 0;
  },
};

type KernelProcessModule = typeof import("../server/kernel-process.js");

/**
 * The server as one file (scripts/bundle-entries.mjs, part of `npm run build`): ~5 ms to load
 * instead of ~20 for its modules one by one. A build without it (tsc alone) uses the modules.
 */
async function loadKernelProcess(): Promise<KernelProcessModule> {
  try {
    // The same module, bundled: its exports are those of kernel-process.js.
    return (await import(new URL("../server/kernel-process.bundle.js", import.meta.url).href)) as KernelProcessModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    return import("../server/kernel-process.js");
  }
}

function parseCommandArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        "connection-file": { type: "string", short: "f" },
        "type-check": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function parseTypeCheck(value: string): TypeCheckMode {
  const mode = TYPE_CHECK_MODES.find((candidate) => candidate === value);
  if (mode === undefined) throw new UsageError(`--type-check must be one of ${TYPE_CHECK_MODES.join(", ")}, got ${JSON.stringify(value)}`);
  return mode;
}
