/**
 * The tfjs internals the zero-copy path reads (lib/backend/native/wasm-heap.ts) are the pinned
 * versions' and mean what it assumes. Fails loudly on a tfjs upgrade: check wasm-heap.ts against
 * the new tfjs-backend-wasm (src/backend_wasm.ts), then move the pins.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, test } from "node:test";

import * as tf from "@tensorflow/tfjs";

import { useWasmBackend } from "../../lib/backend/load-wasm.js";
import { loadBlasAddon } from "../../lib/backend/native/blas-addon.js";
import { checkWasmInternals, pinnedTfjsVersions, wasmHeapOf, WasmInternalsError } from "../../lib/backend/native/wasm-heap.js";

const require = createRequire(import.meta.url);
const installedVersion = (name: string): unknown => (JSON.parse(readFileSync(require.resolve(`@tensorflow/${name}/package.json`), "utf8")) as { version?: unknown }).version;

describe("the tfjs internals of the zero-copy path", () => {
  test("the installed tfjs packages and package.json's pins are the versions wasm-heap.ts was written against", () => {
    const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { dependencies?: Record<string, unknown> };
    for (const [name, pinned] of Object.entries(pinnedTfjsVersions)) {
      assert.equal(installedVersion(name), pinned, `@tensorflow/${name} is installed at ${String(installedVersion(name))}; the zero-copy kernels read its internals as of ${pinned}: re-check lib/backend/native/wasm-heap.ts before moving the pin`);
    }
    for (const name of ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm"]) {
      assert.equal(manifest.dependencies?.[name], pinnedTfjsVersions["tfjs-backend-wasm"], `package.json pins ${name} exactly (no range)`);
    }
  });

  test("a tensor written through the heap reads back through tfjs, and the heap follows the memory when it grows", async () => {
    await useWasmBackend();
    const { version_wasm: wasmVersion } = await import("@tensorflow/tfjs-backend-wasm");
    const heap = checkWasmInternals(wasmVersion);
    const before = heap.buffer;
    // 64 MiB more than the heap has: the memory must grow, detaching the old buffer.
    const big = tf.zeros([before.byteLength / 4 + 16 * 2 ** 20]);
    assert.notEqual(heap.buffer, before, "after growth the heap is the memory's new buffer");
    assert.equal(before.byteLength, 0, "the old buffer is detached");
    const x = tf.tensor([1, 2, 3, 4]);
    heap.view(x).set([5, 6, 7, 8]);
    assert.deepEqual([...x.dataSync()], [5, 6, 7, 8]);
    assert.ok(heap.memory !== undefined, "the WebAssembly.Memory is reachable for the SIMD optimizer loops");
    tf.dispose([big, x]);
  });

  test("the native matmul reads and writes the right memory after the heap grew", { skip: loadBlasAddon().loaded ? undefined : "the native addon is not built here" }, async () => {
    const load = loadBlasAddon();
    if (!load.loaded) return;
    await useWasmBackend();
    const heap = wasmHeapOf(tf.backend());
    const big = tf.zeros([heap.buffer.byteLength / 4 + 8 * 2 ** 20]);
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
    const out = heap.makeOutput([2, 2]);
    load.addon.matmul(heap.buffer, 2, 2, 2, 0, 0, Float64Array.of(heap.byteOffset(a), heap.byteOffset(b), heap.byteOffset(out)));
    const product = tf.engine().makeTensorFromTensorInfo(out);
    assert.deepEqual([...product.dataSync()], [19, 22, 43, 50]);
    assert.throws(() => load.addon.matmul(heap.buffer, 2, 2, 2, 0, 0, Float64Array.of(heap.buffer.byteLength - 8, 0, 0)), /do not fit a heap/, "an offset past the heap throws instead of reading it");
    tf.dispose([big, a, b, product]);
  });

  test("a backend without the expected internals is refused with what is missing", () => {
    assert.throws(() => wasmHeapOf({ wasm: {}, dataIdMap: new Map() }), (error: unknown) =>
      error instanceof WasmInternalsError && /backend\.wasm\.HEAPU8 is not a Uint8Array/.test(error.message) && /makeOutput is not a function/.test(error.message));
  });
});
