/**
 * Picks the fastest tfjs backend this process can load, in order: `tensorflow` on a GPU
 * (`@tensorflow/tfjs-node-gpu`, needs libtensorflow with CUDA), `tensorflow` on the CPU
 * (`@tensorflow/tfjs-node`), `wasm-blas` (wasm with ringbook's native OpenBLAS kernels, needs the
 * native addon), `wasm` (SIMD, one thread, with ringbook's missing gradient kernels), then the
 * pure-JavaScript `cpu`. Each failed attempt is kept with its reason so the cluster can say why a
 * faster backend was not used.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import type { BackendPreference } from "./backend-preference.js";
import { useBlasBackend } from "./load-blas.js";
import { useWasmBackend } from "./load-wasm.js";

/** What was chosen and why. */
export interface BackendChoice {
  /** ringbook's name for it: tensorflow, wasm-blas, wasm or cpu (tfjs calls wasm-blas "wasm"). */
  backend: string;
  /** What it is, in a few words (e.g. the BLAS inside wasm-blas); empty when the name says it all. */
  summary: string;
  /** `gpu:N` (N as seen through CUDA_VISIBLE_DEVICES) or `cpu`. */
  device: string;
  /** One line per backend that was tried and not used. */
  notes: string[];
}

/** Loads one backend; resolves with its summary line. */
type Attempt = { name: Exclude<BackendPreference, "auto">; load: () => Promise<string> };

async function loadNodeBinding(packageName: string): Promise<string> {
  // Importing the package registers the "tensorflow" backend; it throws without libtensorflow.
  await import(packageName);
  if (!(await tf.setBackend("tensorflow"))) throw new RingbookError("ERR_BACKEND", `${packageName} loaded but tf.setBackend("tensorflow") failed`);
  return `libtensorflow through ${packageName}`;
}

const attempts: readonly Attempt[] = [
  { name: "tensorflow-gpu", load: () => loadNodeBinding("@tensorflow/tfjs-node-gpu") },
  { name: "tensorflow", load: () => loadNodeBinding("@tensorflow/tfjs-node") },
  { name: "wasm-blas", load: async () => (await useBlasBackend()).summary },
  { name: "wasm", load: async () => (await useWasmBackend(), "tfjs-backend-wasm (XNNPACK, SIMD, one thread)") },
  {
    name: "cpu",
    load: async () => {
      if (!(await tf.setBackend("cpu"))) throw new RingbookError("ERR_BACKEND", `tf.setBackend("cpu") failed`);
      return "tfjs's plain JavaScript kernels";
    },
  },
];

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]?.slice(0, 400) ?? "";
}

/**
 * Loads and selects a backend. `gpu` says whether this process was given a GPU (through
 * CUDA_VISIBLE_DEVICES); without one the GPU build is not tried under `auto`.
 * @example
 * const { backend, notes } = await selectBackend("auto", { gpu: false }); // "wasm-blas" without libtensorflow
 */
export async function selectBackend(preference: BackendPreference, options: { gpu: boolean }): Promise<BackendChoice> {
  const notes: string[] = [];
  const candidates =
    preference === "auto" ? attempts.filter((attempt) => options.gpu || attempt.name !== "tensorflow-gpu") : attempts.filter((attempt) => attempt.name === preference);
  for (const attempt of candidates) {
    try {
      const summary = await attempt.load();
      const onGpu = attempt.name === "tensorflow-gpu";
      return { backend: attempt.name === "tensorflow-gpu" ? "tensorflow" : attempt.name, summary, device: onGpu ? "gpu:0" : "cpu", notes };
    } catch (error) {
      notes.push(`${attempt.name}: ${firstLine(error)}`);
    }
  }
  throw new RingbookError("ERR_NO_BACKEND", `no tfjs backend could be loaded for ${JSON.stringify(preference)}: ${notes.join("; ")}`);
}
