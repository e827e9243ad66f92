/**
 * Slurm's client commands as the Slurm launcher uses them (`salloc`, `squeue`, `scontrol`,
 * `sinfo`, `scancel`), and parsers for what they print. A command that fails is an error carrying
 * its command line and its stderr; nothing here waits without a bound.
 */
import { spawn } from "node:child_process";
import { RingbookError } from "../errors.js";
import { quote } from "../json-guards.js";

/** A Slurm command failed, did not answer in time, or printed something unexpected. */
export class SlurmCommandError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SLURM", message, options);
  }
}

/** A node of an allocation: its Slurm name and the address its slurmd is reached at. */
export interface SlurmNode {
  name: string;
  address: string;
}

/**
 * Runs a Slurm client to completion and resolves with its stdout. Rejects with its stderr when it
 * exits non-zero, and kills it (by pid) when `signal` aborts.
 */
export function runSlurmCommand(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; signal: AbortSignal }): Promise<string> {
  return new Promise((resolve, reject) => {
    const line = `${command} ${args.join(" ")}`;
    if (options.signal.aborted) return reject(new SlurmCommandError(`${line} was not started: ${String(options.signal.reason)}`));
    const child = spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const abort = (): void => void child.kill("SIGKILL");
    options.signal.addEventListener("abort", abort, { once: true });
    child.once("error", (error) => {
      options.signal.removeEventListener("abort", abort);
      reject(new SlurmCommandError(`${line} could not start: ${error.message} (is Slurm's client installed?)`, { cause: error }));
    });
    child.once("close", (code, exitSignal) => {
      options.signal.removeEventListener("abort", abort);
      if (options.signal.aborted) reject(new SlurmCommandError(`${line} did not finish: ${String(options.signal.reason)}`));
      else if (code !== 0) reject(new SlurmCommandError(`${line} failed (${code ?? exitSignal}): ${stderr.trim() || "no message"}`));
      else resolve(stdout);
    });
  });
}

/** The job id in salloc's "Granted job allocation 12" or "Pending job allocation 12" line. */
export function parseAllocationId(text: string): string | undefined {
  return /(?:Granted|Pending) job allocation (\d+)/.exec(text)?.[1];
}

/** Parses `sinfo -h -N -o "%N %o"` (node name, NodeAddr), one node per line. */
export function parseNodeAddresses(text: string): Map<string, string> {
  const addresses = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const [name, address, ...rest] = line.trim().split(/\s+/);
    if (name === undefined || address === undefined || rest.length > 0) throw new SlurmCommandError(`not a "node address" line from sinfo: ${quote(line)}`);
    addresses.set(name, address);
  }
  return addresses;
}

/** Parses `scontrol show hostnames LIST`: one name per line, in Slurm's order. */
export function parseHostnames(text: string): string[] {
  return text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
}
