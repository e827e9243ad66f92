/**
 * Where a fused optimizer keeps its state (Adam's moments, ...): flat arrays over all parameters,
 * one per slot, in the wasm heap on wasm and wasm-blas (so the SIMD loops and the native addon
 * reach them without copies, with a heap buffer for the step's gradients beside them), in plain
 * Float32Arrays elsewhere. They move along if the backend changes between steps.
 */
import type { TensorInfo } from "@tensorflow/tfjs";

import type { WasmHeap } from "../backend/native/wasm-heap.js";
import type { ParameterMemory } from "./parameter-memory.js";

type Home =
  | { readonly kind: "heap"; readonly heap: WasmHeap; readonly slots: TensorInfo[]; readonly gradients: TensorInfo }
  | { readonly kind: "arrays"; readonly slots: Float32Array[] };

/** See the file's comment. */
export class OptimizerSlots {
  readonly #count: number;
  readonly #length: number;
  readonly #initial: number;
  #home: Home | undefined;

  constructor(count: number, length: number, initial: number) {
    this.#count = count;
    this.#length = length;
    this.#initial = initial;
  }

  /** The slots as arrays (views into the heap there: valid until the next tfjs allocation). */
  views(memory: ParameterMemory | undefined): Float32Array[] {
    const home = this.#homeFor(memory);
    return home.kind === "arrays" ? home.slots : home.slots.map((slot) => home.heap.view(slot));
  }

  /** Heap only: byte offsets of the slots and of the gradient buffer. */
  heapOffsets(memory: ParameterMemory & { kind: "wasm" }): { slots: number[]; gradients: number } {
    const home = this.#homeFor(memory);
    if (home.kind !== "heap") throw new Error("the optimizer's slots are not in the wasm heap");
    return { slots: home.slots.map((slot) => home.heap.byteOffset(slot)), gradients: home.heap.byteOffset(home.gradients) };
  }

  /** Heap only: a view of the heap buffer the step's gradients are copied into. */
  gradientBuffer(memory: ParameterMemory & { kind: "wasm" }): Float32Array {
    const home = this.#homeFor(memory);
    if (home.kind !== "heap") throw new Error("the optimizer's slots are not in the wasm heap");
    return home.heap.view(home.gradients);
  }

  /** Every slot back to its initial value. */
  reset(): void {
    for (const view of this.views(undefined)) view.fill(this.#initial);
  }

  /** Frees heap memory. The slots are empty afterwards (initial values if used again). */
  dispose(): void {
    const home = this.#home;
    this.#home = undefined;
    if (home?.kind === "heap") for (const info of [...home.slots, home.gradients]) home.heap.dispose(info);
  }

  /** The home for `memory` (undefined: wherever they are now), made or moved as needed. */
  #homeFor(memory: ParameterMemory | undefined): Home {
    const current = this.#home;
    const wanted = memory === undefined ? current?.kind ?? "arrays" : memory.kind === "wasm" ? "heap" : "arrays";
    if (current !== undefined && current.kind === wanted && (current.kind !== "heap" || memory === undefined || memory.kind !== "wasm" || current.heap === memory.heap)) {
      return current;
    }
    const previous = current === undefined ? undefined : this.views(undefined).map((view) => view.slice());
    this.dispose();
    let home: Home;
    if (wanted === "heap" && memory?.kind === "wasm") {
      const slots = Array.from({ length: this.#count }, () => memory.heap.makeOutput([this.#length]));
      home = { kind: "heap", heap: memory.heap, slots, gradients: memory.heap.makeOutput([this.#length]) };
    } else {
      home = { kind: "arrays", slots: Array.from({ length: this.#count }, () => new Float32Array(this.#length)) };
    }
    this.#home = home;
    const views = this.views(undefined);
    views.forEach((view, i) => (previous === undefined ? view.fill(this.#initial) : view.set(previous[i]!)));
    return home;
  }
}
