// Helpers for comparing one tfjs kernel between the wasm and cpu backends on the same inputs.
import * as tf from "@tensorflow/tfjs";
import type { NamedAttrMap } from "@tensorflow/tfjs";

import { useBlasBackend } from "../../lib/backend/load-blas.js";
import { useWasmBackend } from "../../lib/backend/load-wasm.js";

/** Deterministic uniform numbers in [-1, 1) (mulberry32), so a failing case can be rerun. */
export function seededValues(seed: number, count: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    values[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return values;
}

/** One input of a kernel: its values, shape and dtype, created fresh on each backend. */
export interface InputSpec {
  values: Float32Array | Int32Array;
  shape: number[];
  dtype: "float32" | "int32";
}

/** Loads both backends once; the wasm one with ringbook's kernels registered. */
export async function prepareBackends(): Promise<void> {
  await tf.setBackend("cpu");
  await useWasmBackend();
}

/**
 * Loads the cpu backend and wasm with ringbook's native kernels (wasm-blas); resolves with the
 * reason when the native addon cannot be used here (the caller skips, saying why).
 */
export async function prepareNativeBackends(): Promise<string | undefined> {
  await tf.setBackend("cpu");
  try {
    await useBlasBackend();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Runs `kernelName` on `backend` and returns its output values and shape; frees what it made. */
export async function runKernelOn(
  backend: "cpu" | "wasm",
  kernelName: string,
  inputs: Record<string, InputSpec>,
  attrs: NamedAttrMap,
): Promise<{ values: Float32Array | Int32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const tensors = Object.fromEntries(
    Object.entries(inputs).map(([name, spec]) => [name, tf.tensor(spec.values, spec.shape, spec.dtype)]),
  );
  try {
    const output = tf.engine().runKernel(kernelName, tensors, attrs);
    if (Array.isArray(output)) throw new Error(`${kernelName} returned ${output.length} outputs`);
    const values = output.dataSync();
    const shape = output.shape;
    output.dispose();
    if (!(values instanceof Float32Array || values instanceof Int32Array)) throw new Error(`${kernelName} gave ${values.constructor.name}`);
    return { values, shape };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Largest |a − b| divided by the largest |b| (at least 1): the error relative to the result's scale. */
export function scaledMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? Number.NaN;
    const b = expected[i] ?? Number.NaN;
    const diff = Math.abs(a - b);
    maxDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(b));
  }
  return maxDiff / scale;
}
