import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";

/** A Debian `jupyter server` on 127.0.0.1 with a random token, for the tests that run through one. */
export interface JupyterServer {
  url: string;
  token: string;
  pid: number;
  /** Its stderr so far (for failure messages). */
  log(): string;
  /** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
  close(): Promise<void>;
}

/** Starts `jupyter server` in the given Jupyter environment and waits until it answers. */
export async function startJupyterServer(env: NodeJS.ProcessEnv, rootDir: string): Promise<JupyterServer> {
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const server = spawn(
    "jupyter",
    ["server", "--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--ServerApp.token=${token}`, `--ServerApp.root_dir=${rootDir}`],
    { env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let serverLog = "";
  server.stderr.on("data", (chunk: Buffer) => (serverLog += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const close = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.kill("SIGTERM");
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000))]);
    if (!stopped) {
      server.kill("SIGKILL");
      await exited;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForServer(`${url}/api/status?token=${token}`, () => serverLog);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, token, pid: server.pid!, log: () => serverLog, close };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function waitForServer(url: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`jupyter server did not answer ${url} within 30 s:\n${log()}`);
}
