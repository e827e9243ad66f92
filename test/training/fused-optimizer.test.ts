/**
 * ringbook's fused optimizers against tfjs's own, step by step, on every backend where they run
 * (JavaScript on cpu, WebAssembly SIMD on wasm, native on wasm-blas): every optimizer tfjs has,
 * with non-default hyperparameters, over variables whose sizes are and are not multiples of the
 * SIMD width; slots in tfjs's names and order (checkpoints move between the two); variables
 * without a gradient left alone; no tensors or wasm buffers left behind.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as tf from "@tensorflow/tfjs";

import { useBlasBackend } from "../../lib/backend/load-blas.js";
import { useWasmBackend } from "../../lib/backend/load-wasm.js";
import { FusedOptimizer } from "../../lib/training/fused-optimizer.js";
import { createOptimizer, createTfjsOptimizer, parseOptimizerSpec, type OptimizerSpec } from "../../lib/training/optimizers.js";
import { seededValues } from "../backend/kernel-comparison.js";

/**
 * Largest accepted |fused − tfjs| per value, relative to max(1, |tfjs|), after 6 steps. The loops
 * repeat tfjs's float32 operations in its order, so they agree bit for bit in practice (the
 * diagnostics count the differing values); the tolerance only allows for a backend whose sqrt or
 * division is not correctly rounded.
 */
const TOLERANCE = 1e-6;
const STEPS = 6;

const specs: OptimizerSpec[] = [
  { name: "sgd", learningRate: 0.05 },
  { name: "momentum", learningRate: 0.05, momentum: 0.8 },
  { name: "momentum", learningRate: 0.05, momentum: 0.7, useNesterov: true },
  { name: "adam", learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 },
  { name: "adam" },
  { name: "adamax", learningRate: 0.02, beta1: 0.85, beta2: 0.95, decay: 0.1 },
  { name: "rmsprop", learningRate: 0.01, decay: 0.8, momentum: 0.5 },
  { name: "rmsprop", learningRate: 0.01, decay: 0.9, momentum: 0.3, centered: true, epsilon: 1e-8 },
  { name: "adagrad", learningRate: 0.1, initialAccumulatorValue: 0.2 },
  { name: "adadelta", learningRate: 0.5, rho: 0.9, epsilon: 1e-5 },
];

/** Sizes that are and are not multiples of 4 (the SIMD loops leave the rest to JavaScript). */
const shapes = [[7, 13], [16], [3], [5, 4, 2]];

type Backend = "cpu" | "wasm" | "wasm-blas";
const expectedImplementation = { cpu: "javascript", wasm: "wasm-simd", "wasm-blas": "native" } as const;

async function use(backend: Backend): Promise<string | undefined> {
  if (backend === "cpu") await tf.setBackend("cpu");
  else if (backend === "wasm") await useWasmBackend();
  else {
    try {
      await useBlasBackend();
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return undefined;
}

let variableSerial = 0;
function makeVariables(seed: number): tf.Variable[] {
  return tf.tidy(() => shapes.map((shape, i) => tf.variable(tf.tensor(seededValues(seed + i, tf.util.sizeFromShape(shape)), shape), true, `v${variableSerial++}`)));
}

function gradientsFor(variables: readonly tf.Variable[], step: number): tf.NamedTensorMap {
  return Object.fromEntries(variables.map((v, i) => [v.name, tf.tensor(seededValues(1000 * step + i, v.size).map((x) => x * (i + 1)), v.shape)]));
}

/** Max scaled difference and how many values differ at all. */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { error: number; differing: number } {
  let error = 0;
  let differing = 0;
  for (let i = 0; i < expected.length; i++) {
    const [a, b] = [actual[i]!, expected[i]!];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a !== b) differing++;
    error = Math.max(error, Number.isNaN(a - b) ? Number.POSITIVE_INFINITY : Math.abs(a - b) / Math.max(1, Math.abs(b)));
  }
  return { error, differing };
}

/** Runs both optimizers `STEPS` steps (one with a variable left out) and compares values and slots. */
async function compareWithTfjs(spec: OptimizerSpec): Promise<{ error: number; differing: number; implementation: string }> {
  const ours = makeVariables(7);
  const theirs = makeVariables(7);
  const fused = createOptimizer(spec, ours);
  assert.ok(fused instanceof FusedOptimizer && FusedOptimizer.isFused(fused), `a fused optimizer on ${tf.getBackend()}`);
  const reference = createTfjsOptimizer(spec);
  for (let step = 0; step < STEPS; step++) {
    const grads = gradientsFor(ours, step);
    // tfjs's way to leave a variable out: a { name, tensor: null } entry (its slots keep their place).
    const asList = (to: readonly tf.Variable[]): Array<{ name: string; tensor: tf.Tensor | null }> =>
      ours.map((v, i) => ({ name: to[i]!.name, tensor: step === 2 && i === 1 ? null : grads[v.name]! }));
    if (step % 2 === 0) {
      fused.applyGradients(asList(ours) as Array<{ name: string; tensor: tf.Tensor }>);
    } else {
      const flat = new Float32Array(ours.reduce((n, v) => n + v.size, 0));
      let at = 0;
      for (const v of ours) {
        flat.set(grads[v.name]!.dataSync(), at);
        at += v.size;
      }
      fused.applyFlatGradients(flat);
    }
    reference.applyGradients(asList(theirs) as Array<{ name: string; tensor: tf.Tensor }>);
    tf.dispose(Object.values(grads));
  }
  let worst = { error: 0, differing: 0 };
  const add = (r: { error: number; differing: number }): void => {
    worst = { error: Math.max(worst.error, r.error), differing: worst.differing + r.differing };
  };
  ours.forEach((v, i) => add(compare(v.dataSync(), theirs[i]!.dataSync())));
  const ourSlots = await fused.getWeights();
  if (spec.name !== "adamax") {
    const theirSlots = await reference.getWeights();
    // tfjs's Adamax has no getWeights; the others name and order their slots as ours.
    const names = (list: Array<{ name: string }>, variables: readonly tf.Variable[]): string[] =>
      list.map(({ name }) => variables.reduce((n, v, i) => n.replace(`${v.name}/`, `#${i}/`), name));
    assert.deepEqual(names(ourSlots, ours), names(theirSlots, theirs), "slot names and order");
    ourSlots.forEach(({ tensor }, i) => add(compare(tensor.dataSync(), theirSlots[i]!.tensor.dataSync())));
  }
  const implementation = (fused as FusedOptimizer).implementation;
  tf.dispose(ourSlots.map(({ tensor }) => tensor));
  fused.dispose();
  reference.dispose();
  tf.dispose([...ours, ...theirs]);
  return { ...worst, implementation };
}

// Availability first: tests start running while the module is still awaiting, so no await may
// come between the describes.
const backends = ["cpu", "wasm", "wasm-blas"] as const;
const unavailableOn = new Map<Backend, string | undefined>();
for (const backend of backends) unavailableOn.set(backend, await use(backend));

for (const backend of backends) {
  const unavailable = unavailableOn.get(backend);
  describe(`fused optimizers on ${backend} equal tfjs's`, { skip: unavailable }, () => {
    for (const spec of specs) {
      test(JSON.stringify(spec), async (t) => {
        await use(backend);
        const { error, differing, implementation } = await compareWithTfjs(spec);
        t.diagnostic(`${implementation}: worst scaled difference ${error.toExponential(2)}, ${differing} values differ in any bit`);
        assert.equal(implementation, expectedImplementation[backend]);
        assert.ok(error <= TOLERANCE, `scaled difference ${error} > ${TOLERANCE}`);
      });
    }

    test("a checkpoint moves between tfjs's Adam and the fused one and training continues the same", async () => {
      await use(backend);
      const spec: OptimizerSpec = { name: "adam", learningRate: 0.02 };
      const [a, b] = [makeVariables(3), makeVariables(3)];
      const reference = createTfjsOptimizer(spec);
      for (let step = 0; step < 3; step++) {
        const grads = gradientsFor(a, step);
        reference.applyGradients(grads);
        tf.dispose(Object.values(grads));
      }
      // b takes a's weights and tfjs's slots (renamed to b's variables), then both go on.
      b.forEach((v, i) => v.assign(a[i]!));
      const saved = await reference.getWeights();
      const fused = createOptimizer(spec, b);
      await fused.setWeights(saved.map(({ name, tensor }) => ({ name: a.reduce((n, v, i) => n.replace(`${v.name}/`, `${b[i]!.name}/`), name), tensor })));
      saved.filter(({ tensor }) => !(tensor instanceof tf.Variable)).forEach(({ tensor }) => tensor.dispose());
      for (let step = 3; step < 6; step++) {
        const grads = gradientsFor(a, step);
        reference.applyGradients(grads);
        fused.applyGradients(Object.fromEntries(Object.values(grads).map((g, i) => [b[i]!.name, g])));
        tf.dispose(Object.values(grads));
      }
      // tfjs restores Adam's β powers as pow(β, t + 1) where it had multiplied them up: a last-bit difference at most.
      b.forEach((v, i) => assert.ok(compare(v.dataSync(), a[i]!.dataSync()).error <= TOLERANCE, `variable ${i}`));
      reference.dispose();
      fused.dispose();
      tf.dispose([...a, ...b]);
    });

    test("steps leave no tensors and no backend buffers behind; dispose frees the slots", async () => {
      await use(backend);
      const variables = makeVariables(5);
      const tensorsBefore = tf.memory().numTensors;
      const buffersBefore = tf.backend().numDataIds();
      const fused = createOptimizer({ name: "rmsprop", centered: true, momentum: 0.5 }, variables) as FusedOptimizer;
      const flat = new Float32Array(variables.reduce((n, v) => n + v.size, 0)).fill(0.25);
      for (let step = 0; step < 4; step++) fused.applyFlatGradients(flat);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      fused.dispose();
      assert.equal(tf.backend().numDataIds(), buffersBefore);
      tf.dispose(variables);
    });
  });
}

describe("optimizer options", () => {
  test("an option the named optimizer does not take is an error naming it, not silently ignored", () => {
    assert.throws(() => parseOptimizerSpec({ name: "sgd", momentum: 0.9 }), /optimizer sgd: unknown option\(s\) momentum \(`momentum` is an option of other optimizers\); it takes learningRate, fused/);
    assert.throws(() => parseOptimizerSpec({ name: "rmsprop", centered: "yes" }), /centered must be true or false, got "yes"/);
    assert.throws(() => parseOptimizerSpec({ name: "adam", beta1: -1 }), /beta1 must be a finite number ≥ 0, got -1/);
    assert.deepEqual(parseOptimizerSpec({ name: "adadelta", rho: 0.9, fused: false }), { name: "adadelta", rho: 0.9, fused: false });
  });

  test("fused: false, or no variables, gives tfjs's optimizer", async () => {
    await tf.setBackend("cpu");
    const variables = makeVariables(1);
    assert.ok(!FusedOptimizer.isFused(createOptimizer({ name: "adam", fused: false }, variables)));
    assert.ok(!FusedOptimizer.isFused(createOptimizer({ name: "adam" })));
    assert.ok(FusedOptimizer.isFused(createOptimizer({ name: "adam" }, variables)));
    tf.dispose(variables);
  });
});
