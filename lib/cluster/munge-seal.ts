/**
 * Seals a worker's bootstrap for its trip through srun with munge, the credential service every
 * Slurm cluster runs: srun forwards a step's stdin to the node over the network unencrypted (Slurm
 * 22.05; the multi-host capture test found the bootstrap there in clear), and the bootstrap holds
 * the cluster secret and CURVE keys. A munge credential is encrypted with the Slurm cluster's munge
 * key, decodes only for this user (`--restrict-uid`), once (munged keeps a replay cache) and
 * within its time-to-live (5 minutes by default). The payload goes through munge's stdin, never
 * its argv.
 */
import { spawn } from "node:child_process";
import { RingbookError } from "../errors.js";
import { isJsonObject } from "../json-guards.js";

/** The line a worker gets instead of its bootstrap: which munged to ask (not a secret) and the credential. */
export interface SealedBootstrap {
  sealed: "munge";
  /** munged's socket (Slurm's `AuthInfo=socket=`), or null for munge's default. */
  socket: string | null;
  credential: string;
}

/** Runs `command args` with `input` on stdin; resolves with its stdout, rejects with its stderr. */
function runWithInput(command: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.stdin.on("error", () => undefined); // the exit says what went wrong
    child.once("error", (error) => reject(new RingbookError("ERR_MUNGE", `${command} could not start: ${error.message} (is munge installed?)`, { cause: error })));
    child.once("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new RingbookError("ERR_MUNGE", `${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || "no message"}`));
    });
    child.stdin.end(input);
  });
}

const socketArgs = (socket: string | null): string[] => (socket === null ? [] : ["--socket", socket]);

/** The sealed line (JSON, no newline) for `payload`, decodable only by this user's processes. */
export async function sealWithMunge(payload: string, options: { socket: string | null; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  const uid = process.getuid?.();
  if (uid === undefined) throw new RingbookError("ERR_MUNGE", "sealing a bootstrap with munge needs a POSIX user id");
  const credential = (await runWithInput("munge", ["--restrict-uid", String(uid), ...socketArgs(options.socket)], payload, options.env, options.timeoutMs ?? 10_000)).trim();
  const sealed: SealedBootstrap = { sealed: "munge", socket: options.socket, credential };
  return JSON.stringify(sealed);
}

/** The sealed bootstrap in `line`, or undefined for a line that is not one (a plain bootstrap). */
export function parseSealedBootstrap(line: string): SealedBootstrap | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value) || value["sealed"] === undefined) return undefined;
  const { sealed, socket, credential } = value;
  if (sealed !== "munge" || (socket !== null && typeof socket !== "string") || typeof credential !== "string" || !credential.startsWith("MUNGE:")) {
    throw new RingbookError("ERR_BAD_BOOTSTRAP", `a sealed bootstrap is {"sealed":"munge","socket":string|null,"credential":"MUNGE:..."}, got fields ${Object.keys(value).join(", ")} with sealed ${JSON.stringify(sealed)}`);
  }
  return { sealed, socket, credential };
}

/** The payload of a sealed bootstrap, decoded by the local munged (which checks the user and replays). */
export function unsealWithMunge(sealed: SealedBootstrap, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return runWithInput("unmunge", ["--metadata", "/dev/null", ...socketArgs(sealed.socket)], sealed.credential, options.env ?? process.env, options.timeoutMs ?? 10_000);
}

/** munged's socket from `scontrol show config` (`AuthInfo = socket=/path,...`), or null for munge's default. */
export function parseMungeSocket(configText: string): string | null {
  const authInfo = /^AuthInfo\s*=\s*(.*)$/m.exec(configText)?.[1] ?? "";
  const socket = authInfo.split(",").map((part) => part.trim()).find((part) => part.startsWith("socket="));
  return socket === undefined ? null : socket.slice("socket=".length);
}
