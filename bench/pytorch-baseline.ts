/**
 * Runs bench/pytorch_baseline.py (Debian's PyTorch 1.13 through /usr/bin/python3) for the training
 * benchmark: the same models, batch and optimizer on one thread, or DDP over gloo with two
 * one-thread processes. OPENBLAS_NUM_THREADS=1 is set for it: Debian's OpenBLAS is the pthread
 * build, and torch.set_num_threads(1) alone still runs its BLAS on every core.
 */
import { fileURLToPath } from "node:url";
import { RingbookError } from "../lib/errors.js";
import { runCommand } from "./run-command.js";
import type { BenchModel } from "./training-models.js";

const PYTHON = "/usr/bin/python3";
const script = fileURLToPath(new URL("../../bench/pytorch_baseline.py", import.meta.url));

/** How PyTorch runs: one process on one thread, or DDP with two one-thread processes. */
export type PytorchMode = "single" | "ddp";

/** Whether PyTorch can be imported here; the reason when not. */
export async function pytorchUnavailable(): Promise<string | undefined> {
  try {
    await runCommand(PYTHON, ["-c", "import torch"], { timeoutMs: 60_000, env: { ...process.env, OPENBLAS_NUM_THREADS: "1" } });
    return undefined;
  } catch (error) {
    return `${PYTHON} cannot import torch (Debian: apt-get install python3-torch): ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
  }
}

/** Steady-state samples/s of PyTorch training `model` for `steps` steps, `warmup` left out. */
export async function pytorchSamplesPerSecond(mode: PytorchMode, model: BenchModel, steps: number, warmup: number): Promise<number> {
  const { stdout } = await runCommand(PYTHON, [script, mode, model, String(steps), String(warmup)], {
    timeoutMs: 300_000,
    env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" },
  });
  const parsed: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  const rate = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["samplesPerSecond"] : undefined;
  if (typeof rate !== "number" || !(rate > 0)) {
    throw new RingbookError("BENCH_COMMAND_FAILED", `pytorch_baseline.py ${mode} ${model} printed ${JSON.stringify(stdout.slice(-200))}, expected {"samplesPerSecond": N}`);
  }
  return rate;
}
