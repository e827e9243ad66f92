/**
 * tfjs's optimizers (sgd, momentum, adam, adamax, rmsprop, adagrad, adadelta, all their
 * hyperparameters) as one pass over all parameters per step, in the backend's memory:
 * natively (C, vectorised) on wasm-blas, in WebAssembly SIMD over the heap on wasm, in JavaScript
 * on cpu. tfjs runs a dozen kernels
 * per variable (3.1 ms for Adam over the benchmark MLP's 269,322 parameters on wasm). Results
 * equal tfjs's optimizer's to float32 rounding (the same float32 operations in the same order;
 * test/training/fused-optimizer.test.ts states the tolerance).
 *
 * It is a `tf.Optimizer` (`applyGradients`, `getWeights`/`setWeights` in tfjs's slot names and
 * order, so checkpoints move between it and tfjs's), and also takes the flat gradient array the
 * all-reduce produced ({@link FusedOptimizer.applyFlatGradients}), without making a tensor.
 */
import tf from "../tfjs.cjs";

import { loadBlasAddon, type BlasAddon } from "../backend/native/blas-addon.js";
import { nativeKernelsInstalled } from "../backend/native/index.js";
import { RingbookError } from "../errors.js";
import { OptimizerScalars, optimizerCodes, slotInitialValue, slotSuffixes, stepInJavaScript } from "./fused-optimizer-math.js";
import type { ResolvedOptimizerSpec } from "./optimizers.js";
import { OptimizerSlots } from "./optimizer-slots.js";
import { currentParameterMemory, ParameterUpdate, type ParameterMemory } from "./parameter-memory.js";
import { SimdOptimizerLoops } from "./simd-optimizer.js";

/** tfjs's `{ name, tensor }` pair of optimizer weights (not exported by @tensorflow/tfjs). */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** Whether a fused optimizer can update the current backend's variables in place. */
export function fusedOptimizerAvailable(): boolean {
  return currentParameterMemory() !== undefined;
}

/** Whether `optimizer` is a {@link FusedOptimizer} (tfjs's `instanceof Optimizer` is duck-typed). */
export function isFusedOptimizer(optimizer: unknown): optimizer is FusedOptimizer {
  return FusedOptimizer.isFused(optimizer);
}

/** How a step runs: natively, in WebAssembly SIMD over the wasm heap, or in JavaScript. */
export type FusedImplementation = "native" | "wasm-simd" | "javascript";

/** The addon, when the native kernels are the backend's (wasm-blas). */
function nativeAddon(memory: ParameterMemory): BlasAddon | undefined {
  if (memory.kind !== "wasm" || !nativeKernelsInstalled()) return undefined;
  const load = loadBlasAddon();
  return load.loaded ? load.addon : undefined;
}

/** SIMD loops per heap (one module instance per WebAssembly memory). */
const simdLoops = new WeakMap<object, SimdOptimizerLoops | null>();

function simdLoopsFor(memory: ParameterMemory): SimdOptimizerLoops | undefined {
  if (memory.kind !== "wasm") return undefined;
  const wasmMemory = memory.heap.memory;
  if (wasmMemory === undefined) return undefined;
  let loops = simdLoops.get(wasmMemory);
  if (loops === undefined) {
    loops = SimdOptimizerLoops.over(wasmMemory) ?? null;
    simdLoops.set(wasmMemory, loops);
  }
  return loops ?? undefined;
}

function implementationFor(memory: ParameterMemory): FusedImplementation {
  if (nativeAddon(memory) !== undefined) return "native";
  return simdLoopsFor(memory) !== undefined ? "wasm-simd" : "javascript";
}

/** See the file's comment. */
export class FusedOptimizer extends tf.Optimizer {
  readonly #spec: ResolvedOptimizerSpec;
  readonly #variables: readonly tf.Variable[];
  readonly #offsets: number[] = [];
  readonly #slots: OptimizerSlots;
  readonly #scalars: OptimizerScalars;
  readonly #length: number;
  /** Gradients gathered from tensors by {@link applyGradients}. */
  #scratch: Float32Array | undefined;

  /** tfjs's serialization name. */
  static get className(): string {
    return "RingbookFusedOptimizer";
  }

  static isFused(value: unknown): value is FusedOptimizer {
    return typeof value === "object" && value !== null && #spec in value;
  }

  constructor(spec: ResolvedOptimizerSpec, variables: readonly tf.Variable[]) {
    super();
    this.#spec = spec;
    this.#variables = variables;
    let length = 0;
    for (const variable of variables) {
      if (variable.dtype !== "float32") throw new RingbookError("ERR_BAD_MODEL", `variable ${variable.name} has dtype ${variable.dtype}; the optimizer trains float32 variables`);
      this.#offsets.push(length);
      length += variable.size;
    }
    this.#length = length;
    this.#slots = new OptimizerSlots(slotSuffixes(spec).length, length, slotInitialValue(spec));
    this.#scalars = new OptimizerScalars(spec);
  }

  /** Where the next step runs on the current backend. */
  get implementation(): FusedImplementation {
    const memory = currentParameterMemory();
    return memory === undefined ? "javascript" : implementationFor(memory);
  }

  /**
   * One step with the gradients of all variables, flat in the constructor's variable order (the
   * gradient exchange's layout). Every variable is updated, as tfjs's optimizer is by a zero
   * gradient.
   */
  applyFlatGradients(gradients: Float32Array): void {
    if (gradients.length !== this.#length) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `the optimizer got ${gradients.length} gradient values for ${this.#length} parameters`);
    }
    this.#step(gradients, this.#variables.map((_, i) => i));
  }

  /** The learning rate of the coming steps (a learning-rate schedule sets it before each). */
  setLearningRate(learningRate: number): void {
    this.#scalars.setLearningRate(learningRate);
  }

  /** tfjs's interface: variables without a gradient are left alone (their slots too), as in tfjs. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const byName = new Map<string, tf.Tensor>(
      Array.isArray(variableGradients) ? variableGradients.map(({ name, tensor }) => [name, tensor]) : Object.entries(variableGradients),
    );
    const known = new Set(this.#variables.map((v) => v.name));
    const strangers = [...byName.keys()].filter((name) => !known.has(name));
    if (strangers.length > 0) throw new RingbookError("ERR_BAD_MODEL", `gradients for variables this optimizer does not train: ${strangers.join(", ")}`);
    this.#scratch ??= new Float32Array(this.#length);
    const indices: number[] = [];
    this.#variables.forEach((variable, i) => {
      const gradient = byName.get(variable.name);
      if (gradient === undefined || gradient === null) return;
      if (gradient.size !== variable.size) throw new RingbookError("ERR_BAD_MODEL", `the gradient of ${variable.name} has ${gradient.size} values, the variable ${variable.size}`);
      this.#scratch!.set(gradient.dataSync() as Float32Array, this.#offsets[i]!);
      indices.push(i);
    });
    this.#step(this.#scratch, indices);
  }

  #step(gradients: Float32Array, indices: readonly number[]): void {
    const memory = currentParameterMemory();
    if (memory === undefined) throw new RingbookError("ERR_PARAMETER_MEMORY", `the fused optimizer cannot update variables on the ${tf.getBackend()} backend; use fused: false`);
    const scalars = this.#scalars.current();
    const implementation = implementationFor(memory);
    const all = indices.length === this.#variables.length;
    // One pass over every variable; with some left out, one per variable on its part of the arrays.
    const groups = all ? [indices] : indices.map((i) => [i]);
    // The SIMD loops read the gradients from the heap: copied in once.
    if (implementation === "wasm-simd" && memory.kind === "wasm") this.#slots.gradientBuffer(memory).set(gradients);
    for (const group of groups) {
      const update = new ParameterUpdate(memory, group.map((i) => this.#variables[i]!));
      try {
        if (implementation === "native" && memory.kind === "wasm") this.#runNative(memory, update, group, all, gradients, scalars);
        else if (implementation === "wasm-simd" && memory.kind === "wasm") this.#runSimd(memory, update, group, scalars);
        else this.#runJavaScript(memory, update, group, gradients, scalars, 0);
      } catch (error) {
        update.abandon();
        throw error;
      }
      update.commit();
    }
    this.#scalars.advance();
    this.incrementIterations();
  }

  /** The addon, over the heap: parameters and slots where they lie, the gradients from their array. */
  #runNative(memory: ParameterMemory & { kind: "wasm" }, update: ParameterUpdate, group: readonly number[], all: boolean, gradients: Float32Array, scalars: Float32Array): void {
    const addon = nativeAddon(memory)!;
    const first = this.#offsets[group[0]!]!;
    const count = group.reduce((sum, i) => sum + this.#variables[i]!.size, 0);
    const part = (array: Float32Array): Float32Array => (all ? array : array.subarray(first, first + count));
    const slots = this.#slots.views(memory);
    const { heap, segments } = update.segments();
    addon.optimizerStep(optimizerCodes[this.#spec.name], heap, segments, part(gradients), scalars, ...slots.map(part));
  }

  /** The SIMD loops over the heap (gradients already copied in), the last few values of each variable in JavaScript. */
  #runSimd(memory: ParameterMemory & { kind: "wasm" }, update: ParameterUpdate, group: readonly number[], scalars: Float32Array): void {
    const loops = simdLoopsFor(memory)!;
    const offsets = this.#slots.heapOffsets(memory);
    const { segments } = update.segments();
    const done = group.map((i, j) => {
      const at = this.#offsets[i]! * 4;
      return loops.run(this.#spec.name, scalars, {
        value: segments[3 * j]!,
        out: segments[3 * j + 1]!,
        grad: offsets.gradients + at,
        slots: offsets.slots.map((slot) => slot + at),
      }, this.#variables[i]!.size);
    });
    const heapGradients = this.#slots.gradientBuffer(memory);
    const [sources, targets, slots] = [update.sources(), update.targets(), this.#slots.views(memory)];
    group.forEach((i, j) => {
      const from = done[j]!;
      const size = this.#variables[i]!.size;
      if (from === size) return;
      stepInJavaScript(this.#spec.name, sources[j]!.subarray(from), targets[j]!.subarray(from), heapGradients, slots, this.#offsets[i]! + from, size - from, scalars);
    });
  }

  #runJavaScript(memory: ParameterMemory, update: ParameterUpdate, group: readonly number[], gradients: Float32Array, scalars: Float32Array, from: number): void {
    const [sources, targets, slots] = [update.sources(), update.targets(), this.#slots.views(memory)];
    group.forEach((i, j) => {
      const size = this.#variables[i]!.size;
      stepInJavaScript(this.#spec.name, sources[j]!.subarray(from), targets[j]!.subarray(from), gradients, slots, this.#offsets[i]! + from, size - from, scalars);
    });
  }

  /** `iter`, then each slot of every variable, named and ordered as tfjs's optimizer does. The caller owns (disposes) the tensors. */
  override async getWeights(): Promise<NamedTensor[]> {
    const iterations = await this.saveIterations();
    const slots = this.#slots.views(currentParameterMemory()).map((view) => view.slice());
    return [iterations, ...slotSuffixes(this.#spec).flatMap((suffix, s) =>
      this.#variables.map((variable, i) => ({
        name: `${variable.name}/${suffix}`,
        tensor: tf.tensor(slots[s]!.slice(this.#offsets[i]!, this.#offsets[i]! + variable.size), variable.shape, "float32"),
      })),
    )];
  }

  /** Restores what {@link getWeights} (or tfjs's optimizer of the same kind) returned; the caller keeps its tensors. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const suffixes = slotSuffixes(this.#spec);
    if (rest.length === 0) {
      // tfjs's optimizer saved before its first step has no slots yet.
      this.#slots.reset();
    } else {
      if (rest.length !== suffixes.length * this.#variables.length) {
        throw new RingbookError("ERR_CHECKPOINT_MISMATCH", `${this.#spec.name} needs ${suffixes.length} slot(s) for each of ${this.#variables.length} variables, got ${rest.length} tensors`);
      }
      rest.forEach(({ name, tensor }, k) => {
        const s = Math.floor(k / this.#variables.length);
        const i = k % this.#variables.length;
        const variable = this.#variables[i]!;
        if (tensor.size !== variable.size) throw new RingbookError("ERR_CHECKPOINT_MISMATCH", `optimizer slot ${name} has ${tensor.size} values, variable ${variable.name} ${variable.size}`);
        const values = tensor.dataSync() as Float32Array;
        this.#slots.views(currentParameterMemory())[s]!.set(values, this.#offsets[i]!);
      });
    }
    this.#scalars.restore(this.iterations);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.#spec };
  }

  override dispose(): void {
    super.dispose();
    this.#slots.dispose();
    this.#scratch = undefined;
  }
}
