/**
 * Finds and loads ringbook's native addon (`ringbook-blas.node`: OpenBLAS's sgemm and ringbook's
 * C kernels, see native/src/), or says why it cannot be had. Never throws: a missing or broken
 * addon is a reason to fall back to plain wasm, not a failure to start.
 *
 * Where it is looked for, in order:
 * 1. `RINGBOOK_BLAS_ADDON`, a path, when set (also how tests point at a missing or broken file);
 * 2. `build/native/ringbook-blas.node`, compiled by `npm run build` where a C compiler and
 *    OpenBLAS's static library exist (scripts/build-native.mjs);
 * 3. `prebuilds/<platform>-<arch>/ringbook-blas.node`, the prebuilt binary the npm package
 *    carries (made by `npm pack`'s prepack step; linux-x64, OpenBLAS linked in).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** What the addon's `info()` says about the OpenBLAS inside it. */
export interface BlasInfo {
  /** e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64" */
  config: string;
  /** The kernel set OpenBLAS chose for this CPU, e.g. "Haswell". */
  core: string;
  threads: number;
}

/**
 * The addon's functions. Tensors are byte offsets into `heap` (the wasm backend's memory); every
 * range is checked natively against the heap's length (a bad offset throws, it never corrupts).
 */
export interface BlasAddon {
  info(): BlasInfo;
  setThreads(threads: number): void;
  /** For each (a, b, out) triple of byte offsets: out = op(a) · op(b), m×k by k×n. */
  matmul(heap: ArrayBuffer, m: number, n: number, k: number, transposeA: 0 | 1, transposeB: 0 | 1, offsets: Float64Array): void;
  /** Bias and activation in place; see native/src/addon.c for the 16 numbers of `descriptor`. */
  epilogue(heap: ArrayBuffer, descriptor: Float64Array): void;
  /** out[r, c] = x[r, c] + row[c]. */
  addRows(heap: ArrayBuffer, xByte: number, rowByte: number, outByte: number, rows: number, cols: number): void;
  /** out = dy · step(x), ReLU's gradient. */
  reluGrad(heap: ArrayBuffer, dyByte: number, xByte: number, outByte: number, count: number): void;
  /** out[c] = Σ_r x[r, c]. */
  sumRows(heap: ArrayBuffer, xByte: number, outByte: number, rows: number, cols: number): void;
  conv2d(heap: ArrayBuffer, xByte: number, filterByte: number, outByte: number, geometry: Int32Array): void;
  conv2dBackpropInput(heap: ArrayBuffer, dyByte: number, filterByte: number, dxByte: number, geometry: Int32Array): void;
  conv2dBackpropFilter(heap: ArrayBuffer, xByte: number, dyByte: number, dwByte: number, geometry: Int32Array): void;
  maxPoolGrad(heap: ArrayBuffer, dyByte: number, xByte: number, dxByte: number, geometry: Int32Array): void;
  /** One optimizer step over parameters at (byte offset, count) pairs of `heap`. */
  optimizerStep(kind: number, heap: ArrayBuffer, segments: Float64Array, grads: Float32Array, scalars: Float32Array, ...slots: Float32Array[]): void;
}

/** The outcome of looking for the addon. */
export type BlasAddonLoad =
  | { readonly loaded: true; readonly addon: BlasAddon; readonly path: string; readonly info: BlasInfo }
  | { readonly loaded: false; readonly reason: string };

const functionNames = [
  "info", "setThreads", "matmul", "epilogue", "addRows", "reluGrad", "sumRows", "conv2d", "conv2dBackpropInput", "conv2dBackpropFilter", "maxPoolGrad", "optimizerStep",
] as const;

/** The repository (or installed package) root, from dist/lib/backend/native/. */
const packageRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** Where the addon may be, in the order they are tried, with what each is. */
export function blasAddonCandidates(env: NodeJS.ProcessEnv = process.env): Array<{ path: string; origin: string }> {
  const override = env["RINGBOOK_BLAS_ADDON"];
  if (override !== undefined && override !== "") return [{ path: override, origin: "RINGBOOK_BLAS_ADDON" }];
  return [
    { path: `${packageRoot}build/native/ringbook-blas.node`, origin: "built by npm run build" },
    { path: `${packageRoot}prebuilds/${process.platform}-${process.arch}/ringbook-blas.node`, origin: "prebuilt" },
  ];
}

let cached: BlasAddonLoad | undefined;

/**
 * Loads the addon once per thread (later calls return the first outcome). OpenBLAS reads
 * `OPENBLAS_NUM_THREADS` when it loads: it is set to 1 for the load (and restored), so no idle
 * BLAS threads are started, and the addon also sets one thread itself.
 * @example
 * const blas = loadBlasAddon();
 * if (!blas.loaded) console.log(`plain wasm: ${blas.reason}`);
 */
export function loadBlasAddon(): BlasAddonLoad {
  cached ??= load();
  return cached;
}

function load(): BlasAddonLoad {
  const candidates = blasAddonCandidates();
  const found = candidates.find((candidate) => existsSync(candidate.path));
  if (found === undefined) {
    const where = candidates.map((candidate) => `${candidate.path} (${candidate.origin})`).join(", ");
    const hint = process.platform === "linux" && process.arch === "x64"
      ? "npm run build compiles it where gcc and OpenBLAS's static library (libopenblas-dev) are installed"
      : `no prebuilt binary exists for ${process.platform}-${process.arch}`;
    return { loaded: false, reason: `no native BLAS addon at ${where}; ${hint}` };
  }
  const previous = process.env["OPENBLAS_NUM_THREADS"];
  process.env["OPENBLAS_NUM_THREADS"] = "1";
  let exports: unknown;
  try {
    exports = createRequire(import.meta.url)(found.path);
  } catch (error) {
    return { loaded: false, reason: `the native BLAS addon ${found.path} (${found.origin}) did not load: ${firstLine(error)}` };
  } finally {
    if (previous === undefined) delete process.env["OPENBLAS_NUM_THREADS"];
    else process.env["OPENBLAS_NUM_THREADS"] = previous;
  }
  const missing = functionNames.filter((name) => typeof (exports as Record<string, unknown> | null)?.[name] !== "function");
  if (missing.length > 0) {
    return { loaded: false, reason: `the native BLAS addon ${found.path} lacks ${missing.join(", ")} (built from other sources?)` };
  }
  const addon = exports as BlasAddon;
  try {
    addon.setThreads(1);
    const info = parseInfo(addon.info());
    return { loaded: true, addon, path: found.path, info };
  } catch (error) {
    return { loaded: false, reason: `the native BLAS addon ${found.path} failed its first call: ${firstLine(error)}` };
  }
}

function parseInfo(value: unknown): BlasInfo {
  const record = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const { config, core, threads } = record;
  if (typeof config !== "string" || typeof core !== "string" || typeof threads !== "number") {
    throw new TypeError(`info() returned ${JSON.stringify(value)}, expected { config, core, threads }`);
  }
  return { config, core, threads };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]?.slice(0, 300) ?? "";
}
