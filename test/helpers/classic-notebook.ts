import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { freePorts, killIfAlive } from "../kernel/helpers.js";

/** Debian's classic notebook server (notebook 6.4), started by a test on 127.0.0.1. */
export interface ClassicNotebookServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  token: string;
  /** The URL of a notebook page, with the token. */
  notebookUrl(path: string): string;
  /** What the server printed so far. */
  log(): string;
  /** Stops the server by its PID (its kernels shut down with it), then kills by PID any process left whose command line names `ownedPath`. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `jupyter notebook` on a free port with a random token, serving `notebookDir`, in the given
 * environment (a private JUPYTER_PATH with the ringbook kernelspec and the nbextension copy of
 * plotly.js). `ownedPath` is a folder only this server's processes name on their command line (the
 * private runtime dir holds every kernel's connection file): after the server stops, a kernel still
 * running there is killed by its PID.
 */
export async function startClassicNotebook(options: { env: NodeJS.ProcessEnv; notebookDir: string; ownedPath: string; extraArgs?: readonly string[] }): Promise<ClassicNotebookServer> {
  const [port] = await freePorts(1);
  const token = randomBytes(16).toString("hex");
  const origin = `http://127.0.0.1:${port}`;
  const server = spawn(
    "jupyter",
    ["notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--NotebookApp.token=${token}`, `--NotebookApp.notebook_dir=${options.notebookDir}`, ...(options.extraArgs ?? [])],
    { env: options.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  server.stdout.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  server.stderr.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
        process.kill(server.pid, "SIGTERM");
        const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
        if (!stopped && server.exitCode === null) process.kill(server.pid, "SIGKILL");
        await exited;
      }
      for (const pid of await pidsNaming(options.ownedPath)) killIfAlive(pid);
    })());
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`jupyter notebook exited with ${server.exitCode}:\n${log}`);
      try {
        if ((await fetch(`${origin}/api/status?token=${token}`)).ok) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`jupyter notebook did not answer on ${origin} within 60 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    origin,
    token,
    notebookUrl: (path) => `${origin}/notebooks/${path}?token=${token}`,
    log: () => log,
    close,
  };
}

/** PIDs of processes whose command line contains `text` (read from /proc). */
async function pidsNaming(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}
