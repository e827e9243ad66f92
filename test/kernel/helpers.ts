/** Shared helpers for kernel tests: paths, free ports, connection files, child processes. */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test/kernel/). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const cliScript = join(repoRoot, "dist", "kernel", "cli.js");
export const fixtureKernelScript = join(repoRoot, "dist", "test", "kernel", "fixtures", "fixture-kernel.js");
export const pythonDriver = join(repoRoot, "test", "kernel", "py", "driver.py");
export const debianPython = "/usr/bin/python3";

/** A temporary directory removed by `remove()`. */
export async function makeTempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `ringbook-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Ports the OS reports free on 127.0.0.1 right now. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error(`unexpected server address ${String(address)}`);
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

export interface TestConnection {
  key: string;
  ports: { shell: number; control: number; stdin: number; iopub: number; hb: number };
  file: string;
}

/** Writes a tcp connection file on 127.0.0.1 with fresh ports. */
export async function writeConnectionFile(dir: string, key: string): Promise<TestConnection> {
  const [shell, control, stdin, iopub, hb] = (await freePorts(5)) as [number, number, number, number, number];
  const file = join(dir, `kernel-${randomUUID()}.json`);
  const ports = { shell, control, stdin, iopub, hb };
  await writeFile(
    file,
    JSON.stringify({
      transport: "tcp",
      ip: "127.0.0.1",
      shell_port: shell,
      control_port: control,
      stdin_port: stdin,
      iopub_port: iopub,
      hb_port: hb,
      key,
      signature_scheme: "hmac-sha256",
      kernel_name: "ringbook-test",
    }),
  );
  return { key, ports, file };
}

/** A spawned child process whose output is collected; `kill()` ends it by PID. */
export interface Child {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  kill(): void;
  /** Resolves once stderr matches `pattern`; rejects when `signal` aborts (default: after 10 s). */
  waitForStderr(pattern: RegExp, options?: { signal?: AbortSignal }): Promise<void>;
}

export function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const stderrListeners = new Set<() => void>();
  child.stderr?.on("data", () => stderrListeners.forEach((listener) => listener()));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    },
    waitForStderr: async (pattern, options = {}) => {
      const signal = options.signal ?? AbortSignal.timeout(10_000);
      let check: () => void = () => {};
      let onAbort: () => void = () => {};
      try {
        await new Promise<void>((resolve, reject) => {
          check = () => {
            if (pattern.test(err)) resolve();
          };
          onAbort = () => reject(new Error(`stderr never matched ${pattern}; it was:\n${err}`, { cause: signal.reason }));
          signal.addEventListener("abort", onAbort, { once: true });
          stderrListeners.add(check);
          check();
        });
      } finally {
        stderrListeners.delete(check);
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

/** Kills a process by PID if it is still alive (for grandchildren such as kernels started by Python). */
export function killIfAlive(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Signs the four JSON parts as a Jupyter client does (written out here, independent of kernel/protocol). */
export function clientFrames(key: string, msgType: string, content: unknown, options: { signature?: string; msgId?: string } = {}): Buffer[] {
  const header = { msg_id: options.msgId ?? randomUUID(), session: "test-client", username: "test", date: new Date().toISOString(), msg_type: msgType, version: "5.3" };
  const parts = [header, {}, {}, content].map((part) => Buffer.from(JSON.stringify(part)));
  const hmac = createHmac("sha256", key);
  for (const part of parts) hmac.update(part);
  const signature = options.signature ?? hmac.digest("hex");
  return [Buffer.from("<IDS|MSG>"), Buffer.from(signature), ...parts];
}
