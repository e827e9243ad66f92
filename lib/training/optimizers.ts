import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";

/** An optimizer by name with its hyperparameters, e.g. `{ name: "adam", learningRate: 1e-3 }`. */
export interface OptimizerSpec {
  name: OptimizerName;
  /** @default 0.001 for adam/adamax/rmsprop, 0.01 otherwise */
  learningRate?: number;
  /** sgd with momentum, rmsprop. */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

const optimizerNames = ["sgd", "momentum", "adam", "adamax", "rmsprop", "adagrad", "adadelta"] as const;
export type OptimizerName = (typeof optimizerNames)[number];

/**
 * Validates an optimizer spec (a name or `{ name, ...hyperparameters }`) into a plain object, with a
 * clear error naming the bad value. Runs before any worker computes, so a typo fails fast.
 */
export function parseOptimizerSpec(value: unknown): OptimizerSpec {
  const spec: Record<string, unknown> =
    typeof value === "string" ? { name: value } : typeof value === "object" && value !== null ? { ...value } : {};
  const name = spec.name;
  if (typeof name !== "string" || !(optimizerNames as readonly string[]).includes(name)) {
    throw new RingbookError(
      "ERR_UNKNOWN_OPTIMIZER",
      `unknown optimizer ${JSON.stringify(value)}; use one of ${optimizerNames.join(", ")}, e.g. { name: "adam", learningRate: 1e-3 }`,
    );
  }
  const numbers = ["learningRate", "momentum", "beta1", "beta2", "epsilon"] as const;
  for (const key of numbers) {
    const v = spec[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) {
      throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: ${key} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
    }
  }
  const unknownKeys = Object.keys(spec).filter((key) => key !== "name" && !(numbers as readonly string[]).includes(key));
  if (unknownKeys.length > 0) {
    throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: unknown option(s) ${unknownKeys.join(", ")}`);
  }
  return spec as unknown as OptimizerSpec;
}

/** A fresh tfjs optimizer for a validated spec. */
export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  switch (spec.name) {
    case "sgd":
      return tf.train.sgd(spec.learningRate ?? 0.01);
    case "momentum":
      return tf.train.momentum(spec.learningRate ?? 0.01, spec.momentum ?? 0.9);
    case "adam":
      return tf.train.adam(spec.learningRate ?? 0.001, spec.beta1, spec.beta2, spec.epsilon);
    case "adamax":
      return tf.train.adamax(spec.learningRate ?? 0.002, spec.beta1, spec.beta2, spec.epsilon);
    case "rmsprop":
      return tf.train.rmsprop(spec.learningRate ?? 0.001, undefined, spec.momentum, spec.epsilon);
    case "adagrad":
      return tf.train.adagrad(spec.learningRate ?? 0.01);
    case "adadelta":
      return tf.train.adadelta(spec.learningRate ?? 0.001, undefined, spec.epsilon);
    default: {
      const impossible: never = spec.name;
      throw new RingbookError("ERR_UNKNOWN_OPTIMIZER", `unknown optimizer ${JSON.stringify(impossible)}`);
    }
  }
}
