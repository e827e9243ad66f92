/** Helpers for cluster tests: output capture, process liveness, timing, the backends to test on. */
import { existsSync, readFileSync } from "node:fs";
import { loadBlasAddon } from "../../lib/backend/native/blas-addon.js";

/**
 * The CPU backends cluster tests run on, best first: wasm-blas where the native addon loads here
 * (it is built by `npm run build` where gcc and libopenblas.a exist; .ci/run installs them), and
 * plain wasm. The workers load the same addon, so `auto` gives them the first.
 */
export const cpuBackends: ReadonlyArray<"wasm-blas" | "wasm"> = loadBlasAddon().loaded ? ["wasm-blas", "wasm"] : ["wasm"];

/** What `auto` picks on this machine's workers (no libtensorflow here). */
export const bestCpuBackend: "wasm-blas" | "wasm" = cpuBackends[0]!;

/** True while `pid` is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    // The state is the field after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Polls until none of `pids` is alive; resolves with the ones still alive at the deadline. */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || performance.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Kills by PID if still alive (cleanup of processes a test started). */
export function killIfAlive(pid: number | null | undefined): void {
  if (pid === null || pid === undefined || !isAlive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Runs `body` while collecting the text written to process.stdout and process.stderr. */
export async function captureOutput<T>(body: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  const captured = { stdout: "", stderr: "" };
  for (const name of ["stdout", "stderr"] as const) {
    const original = originals[name];
    process[name].write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      // The test runner reports to its parent through stdout in binary (Buffer) chunks: pass those on.
      if (typeof chunk !== "string") return (original as (...args: unknown[]) => boolean).call(process[name], chunk, ...rest);
      captured[name] += chunk;
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    const value = await body();
    return { value, ...captured };
  } finally {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
  }
}

/** Milliseconds `promise` took to settle, with its outcome. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}
