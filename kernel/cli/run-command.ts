import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { RingbookError } from "../../lib/errors.js";
import { startLocalNotebookKernel } from "../notebook/local-notebook-kernel.js";
import { parseParameterValue, type ParameterValue } from "../notebook/parameters.js";
import { runNotebook, skipExecutionTag, type NotebookKernel } from "../notebook/run-notebook.js";
import { UsageError, type Command } from "./command.js";

const usage = `Usage: ringbook run NOTEBOOK.ipynb [-p NAME VALUE]... [-o OUT.ipynb] [--timeout S]
                    [--allow-errors] [--server URL --token TOKEN]

Runs every cell of a notebook on a fresh ringbook kernel, headless, and writes the executed copy.
  -p, --parameter NAME VALUE  set a parameter (papermill convention: the cell tagged "parameters"
                              holds defaults; an "injected-parameters" cell follows it). VALUE is
                              a number, true/false, null, JSON, or else a string.
  -o, --output FILE           executed notebook (default: NOTEBOOK.out.ipynb beside the input)
  --timeout S                 per-cell limit in seconds; the cell is interrupted and the run fails
  --allow-errors              a failing cell does not stop the run: its error is saved with it
                              and the next cell runs (exit status 0)
  --server URL --token T      run on a Jupyter Server's ringbook kernel instead of a local one
  -q, --quiet                 no progress on stderr

Cells tagged "raises-exception" may fail without stopping the run; cells tagged "skip-execution"
are not run and keep their saved outputs (nbclient's tags).

SIGINT (Ctrl-C) or SIGTERM stops the run: the running cell is interrupted (a training run stops
after the step its ranks agree on), the executed copy is written up to there with the run's final
state, and the kernel and every worker cluster it started are closed.

Exit status: 0 when every cell ran (failures allowed as above included), 1 when a cell failed
or the kernel died, 124 on a timeout, 130 or 143 when stopped by SIGINT or SIGTERM, 2 on bad
arguments or a notebook that is not nbformat 4 JSON.`;

/** `ringbook run`: papermill-style headless runs. */
export const runCommand: Command = {
  name: "run",
  summary: "run a notebook headless and write the executed copy",
  usage,
  async run(args) {
    const { input, output, parameters, timeoutSeconds, allowErrors, server, token, quiet } = parseRunArgs(args);
    const progress = quiet ? () => undefined : (line: string) => process.stderr.write(`[ringbook run] ${line}\n`);
    const startKernel = async (): Promise<NotebookKernel> => {
      if (server !== undefined) {
        const { startServerNotebookKernel } = await import("../notebook/server-notebook-kernel.js");
        return startServerNotebookKernel({ baseUrl: server, token: token ?? "", notebookPath: input });
      }
      return startLocalNotebookKernel({ cwd: dirname(input), ...(quiet ? {} : { onStderr: (text) => process.stderr.write(text) }) });
    };
    // A signal stops the run cleanly instead of ending this process at once, which would leave the
    // kernel (and the workers it started) running without anyone to close them.
    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stoppedBy !== undefined) return;
      stoppedBy = signal;
      process.stderr.write(`[ringbook run] ${signal}: stopping the run and closing the kernel\n`);
      stop.abort(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let result;
    try {
      result = await runNotebook({ input, output, parameters, ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }), allowErrors, startKernel, progress, signal: stop.signal });
    } catch (error) {
      if (error instanceof RingbookError && ["ERR_NOTEBOOK_FORMAT", "ERR_NOTEBOOK_MISSING", "ERR_BAD_PARAMETER"].includes(error.code)) {
        process.stderr.write(`ringbook run: ${error.message}\n`);
        return 2;
      }
      throw error;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    if (result.status === "ok") {
      const skipped = result.skippedCells.length === 0 ? "" : `; skipped (${skipExecutionTag}): cell ${result.skippedCells.join(", ")}`;
      const failed = result.allowedErrors.length === 0 ? "" : `; failed, allowed: cell ${result.allowedErrors.join(", ")}`;
      progress(`done: ${result.cells} code cells in ${(result.durationMs / 1000).toFixed(1)} s${skipped}${failed}`);
      process.stdout.write(`${result.output}\n`);
      return 0;
    }
    process.stderr.write(`ringbook run: ${result.report}\nexecuted notebook (up to the failure): ${result.output}\n`);
    switch (result.reason) {
      case "timeout":
        return 124;
      case "interrupted":
        return stoppedBy === "SIGTERM" ? 143 : 130;
      case "error":
      case "kernel-died":
        return 1;
      default: {
        const impossible: never = result.reason;
        return impossible;
      }
    }
  },
};

function parseRunArgs(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        parameter: { type: "string", short: "p", multiple: true },
        output: { type: "string", short: "o" },
        timeout: { type: "string" },
        "allow-errors": { type: "boolean" },
        server: { type: "string" },
        token: { type: "string" },
        quiet: { type: "boolean", short: "q" },
      },
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  // `-p NAME VALUE` takes two words: parseArgs gives NAME as the option value and VALUE as the next positional.
  const parameters = new Map<string, ParameterValue>();
  const positionals: string[] = [];
  const tokens = parsed.tokens ?? [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === "option" && token.name === "parameter") {
      const next = tokens[i + 1];
      if (token.value === undefined || next?.kind !== "positional") throw new UsageError(`-p needs a NAME and a VALUE`);
      parameters.set(token.value, parseParameterValue(next.value));
      i++;
    } else if (token.kind === "positional") {
      positionals.push(token.value);
    }
  }
  if (positionals.length !== 1) throw new UsageError(`expected one notebook, got ${positionals.length === 0 ? "none" : positionals.map((p) => JSON.stringify(p)).join(", ")}`);
  const input = resolve(positionals[0]!);
  const output = resolve(parsed.values.output ?? input.replace(/(\.ipynb)?$/, ".out.ipynb"));
  if (output === input) throw new UsageError("the output must differ from the input notebook (the input is never modified)");
  let timeoutSeconds: number | undefined;
  if (parsed.values.timeout !== undefined) {
    timeoutSeconds = Number(parsed.values.timeout);
    if (!(timeoutSeconds > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(parsed.values.timeout)}`);
  }
  if (parsed.values.token !== undefined && parsed.values.server === undefined) throw new UsageError("--token needs --server");
  return { input, output, parameters, timeoutSeconds, allowErrors: parsed.values["allow-errors"] === true, server: parsed.values.server, token: parsed.values.token, quiet: parsed.values.quiet === true };
}
