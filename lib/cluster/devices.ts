/**
 * Which GPU, if any, each worker gets. A worker sees only its own GPU through
 * `CUDA_VISIBLE_DEVICES`, as one process per GPU is how TensorFlow and NCCL-style data parallel
 * use several GPUs; `"cpu"` hides every GPU so libtensorflow does not grab GPU memory.
 */
import { spawnSync } from "node:child_process";
import { RingbookError } from "../errors.js";

/** `auto`: one GPU per worker, round robin, when `nvidia-smi` lists any, else CPU. */
export type DeviceOption = "auto" | "cpu" | readonly number[];

/** One worker's assignment. */
export interface DeviceAssignment {
  gpu: number | null;
  /** CUDA_VISIBLE_DEVICES for the worker; absent where someone else (Slurm) sets it. */
  env: { CUDA_VISIBLE_DEVICES?: string };
}

/** GPU indices `nvidia-smi` reports; none when it is missing or fails. */
export function listGpus(): number[] {
  const result = spawnSync("nvidia-smi", ["--query-gpu=index", "--format=csv,noheader"], { encoding: "utf8", timeout: 5000 });
  if (result.status !== 0 || typeof result.stdout !== "string") return [];
  return result.stdout
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((index) => Number.isInteger(index) && index >= 0);
}

/** Validates a device option, quoting a bad value. */
export function parseDeviceOption(value: unknown): DeviceOption {
  if (value === undefined) return "auto";
  if (value === "auto" || value === "cpu") return value;
  if (Array.isArray(value) && value.length > 0 && value.every((index) => Number.isSafeInteger(index) && index >= 0)) return value as number[];
  throw new RingbookError("ERR_BAD_OPTION", `devices must be "auto", "cpu" or a non-empty array of GPU indices, got ${JSON.stringify(value)}`);
}

/** Assignments for ranks 0..workers-1; `gpus` is what `auto` may use (listed lazily). */
export function assignDevices(option: DeviceOption, rank: number, gpus: () => number[]): DeviceAssignment {
  const pool = option === "cpu" ? [] : option === "auto" ? gpus() : option;
  if (pool.length === 0) return { gpu: null, env: { CUDA_VISIBLE_DEVICES: "" } };
  const gpu = pool[rank % pool.length]!;
  return { gpu, env: { CUDA_VISIBLE_DEVICES: String(gpu) } };
}
