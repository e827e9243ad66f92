import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { FusedOptimizer, fusedOptimizerAvailable } from "./fused-optimizer.js";
import { closestName, suggestName } from "./option-names.js";

/**
 * An optimizer by name with its hyperparameters, e.g. `{ name: "adam", learningRate: 1e-3 }`:
 * those of tfjs's `tf.train.*` constructor of that name, with its defaults.
 */
export interface OptimizerSpec {
  name: OptimizerName;
  /**
   * In `cluster.train`'s options also a schedule or a function of the step (see
   * `TrainOptions.optimizer`), evaluated before every step.
   * @default 0.001 for adam/rmsprop/adadelta, 0.002 for adamax, 0.01 otherwise
   */
  learningRate?: number;
  /** momentum (default 0.9), rmsprop (default 0). */
  momentum?: number;
  /** momentum: Nesterov momentum. @default false */
  useNesterov?: boolean;
  /** adam, adamax. @default 0.9 */
  beta1?: number;
  /** adam, adamax. @default 0.999 */
  beta2?: number;
  /** adam, adamax, rmsprop, adadelta. @default the backend's epsilon (1e-7) */
  epsilon?: number;
  /** rmsprop: the moving average's decay (default 0.9); adamax: the learning rate's decay (default 0). */
  decay?: number;
  /** rmsprop: centred (normalised by the gradient's variance). @default false */
  centered?: boolean;
  /** adagrad. @default 0.1 */
  initialAccumulatorValue?: number;
  /** adadelta. @default 0.95 */
  rho?: number;
  /**
   * One fused pass over all parameters per step (ringbook's, same results as tfjs's within float32
   * rounding) where the backend allows it (wasm, wasm-blas, cpu); `false` uses tfjs's optimizer,
   * a dozen kernels per variable. @default true
   */
  fused?: boolean;
}

/** The optimizers `cluster.train` knows by name. */
export const optimizerNames = ["sgd", "momentum", "adam", "adamax", "rmsprop", "adagrad", "adadelta"] as const;
export type OptimizerName = (typeof optimizerNames)[number];

type NumberKey = "learningRate" | "momentum" | "beta1" | "beta2" | "epsilon" | "decay" | "initialAccumulatorValue" | "rho";
type FlagKey = "useNesterov" | "centered" | "fused";

/** The options each optimizer takes (besides `name` and `fused`), as tfjs's constructors. */
const optionsOf: Record<OptimizerName, ReadonlyArray<NumberKey | FlagKey>> = {
  sgd: ["learningRate"],
  momentum: ["learningRate", "momentum", "useNesterov"],
  adam: ["learningRate", "beta1", "beta2", "epsilon"],
  adamax: ["learningRate", "beta1", "beta2", "epsilon", "decay"],
  rmsprop: ["learningRate", "decay", "momentum", "epsilon", "centered"],
  adagrad: ["learningRate", "initialAccumulatorValue"],
  adadelta: ["learningRate", "rho", "epsilon"],
};
const flagKeys: ReadonlySet<string> = new Set<FlagKey>(["useNesterov", "centered", "fused"]);
/** Decay factors: at 1 nothing decays (adamax's `decay` is a learning-rate decay, any size). */
const belowOne: ReadonlySet<string> = new Set<NumberKey>(["beta1", "beta2", "rho", "decay"]);

/**
 * Validates an optimizer spec (a name or `{ name, ...hyperparameters }`) into a plain object, with a
 * clear error naming the bad value. Runs before any worker computes, so a typo fails fast; an
 * option the named optimizer does not take is an error, not silently ignored.
 */
export function parseOptimizerSpec(value: unknown): OptimizerSpec {
  const spec: Record<string, unknown> =
    typeof value === "string" ? { name: value } : typeof value === "object" && value !== null ? { ...value } : {};
  const name = spec.name;
  if (typeof name !== "string" || !(optimizerNames as readonly string[]).includes(name)) {
    throw new RingbookError(
      "ERR_UNKNOWN_OPTIMIZER",
      `unknown optimizer ${JSON.stringify(value)}${typeof name === "string" ? suggestName(name, optimizerNames) : ""}; use one of ${optimizerNames.join(", ")}, e.g. { name: "adam", learningRate: 1e-3 }`,
    );
  }
  const allowed: ReadonlyArray<string> = [...optionsOf[name as OptimizerName], "fused"];
  const unknownKeys = Object.keys(spec).filter((key) => key !== "name" && !allowed.includes(key));
  if (unknownKeys.length > 0) {
    const first = unknownKeys[0]!;
    const closest = closestName(first, [...new Set([...allowed, ...Object.values(optionsOf).flat()])]);
    const hint =
      closest === undefined ? "" : allowed.includes(closest) ? `; did you mean \`${closest}\`?` : ` (\`${closest}\` is an option of other optimizers)`;
    throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: unknown option(s) ${unknownKeys.join(", ")}${hint}; it takes ${allowed.join(", ")}`);
  }
  const parsed: Record<string, unknown> = { name };
  for (const key of allowed) {
    const v = spec[key];
    if (v === undefined) continue;
    if (flagKeys.has(key)) {
      if (typeof v !== "boolean") throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: ${key} must be true or false, got ${JSON.stringify(v)}`);
    } else if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: ${key} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
    } else if (belowOne.has(key) && v >= 1 && !(key === "decay" && name === "adamax")) {
      // β = 1 never forgets (Adam's bias correction divides by 1 - β^t = 0).
      throw new RingbookError("ERR_BAD_OPTION", `optimizer ${name}: ${key} must be in [0, 1), got ${JSON.stringify(v)}`);
    }
    parsed[key] = v;
  }
  return parsed as unknown as OptimizerSpec;
}

/** A spec with every hyperparameter its optimizer takes filled in with tfjs's default. */
export type ResolvedOptimizerSpec = Required<Omit<OptimizerSpec, "fused">>;

/** Fills in tfjs's defaults (epsilon: the current backend's, 1e-7 at float32). */
export function resolveOptimizerSpec(spec: OptimizerSpec): ResolvedOptimizerSpec {
  const learningRate = spec.learningRate ?? (spec.name === "adamax" ? 0.002 : ["adam", "rmsprop", "adadelta"].includes(spec.name) ? 0.001 : 0.01);
  return {
    name: spec.name,
    learningRate,
    momentum: spec.momentum ?? (spec.name === "momentum" ? 0.9 : 0),
    useNesterov: spec.useNesterov ?? false,
    beta1: spec.beta1 ?? 0.9,
    beta2: spec.beta2 ?? 0.999,
    epsilon: spec.epsilon ?? tf.backend().epsilon(),
    decay: spec.decay ?? (spec.name === "rmsprop" ? 0.9 : 0),
    centered: spec.centered ?? false,
    initialAccumulatorValue: spec.initialAccumulatorValue ?? 0.1,
    rho: spec.rho ?? 0.95,
  };
}

/** tfjs's own optimizer for a validated spec. */
export function createTfjsOptimizer(spec: OptimizerSpec): tf.Optimizer {
  const r = resolveOptimizerSpec(spec);
  switch (r.name) {
    case "sgd":
      return tf.train.sgd(r.learningRate);
    case "momentum":
      return tf.train.momentum(r.learningRate, r.momentum, r.useNesterov);
    case "adam":
      return tf.train.adam(r.learningRate, r.beta1, r.beta2, r.epsilon);
    case "adamax":
      return tf.train.adamax(r.learningRate, r.beta1, r.beta2, r.epsilon, r.decay);
    case "rmsprop":
      return tf.train.rmsprop(r.learningRate, r.decay, r.momentum, r.epsilon, r.centered);
    case "adagrad":
      return tf.train.adagrad(r.learningRate, r.initialAccumulatorValue);
    case "adadelta":
      return tf.train.adadelta(r.learningRate, r.rho, r.epsilon);
    default: {
      const impossible: never = r.name;
      throw new RingbookError("ERR_UNKNOWN_OPTIMIZER", `unknown optimizer ${JSON.stringify(impossible)}`);
    }
  }
}

/**
 * A fresh optimizer for a validated spec. Given the variables it will train (in the order of the
 * flat gradients it will get), a {@link FusedOptimizer} where the current backend allows one and
 * the spec does not say `fused: false`; otherwise tfjs's.
 */
export function createOptimizer(spec: OptimizerSpec, variables?: readonly tf.Variable[]): tf.Optimizer {
  if (variables !== undefined && spec.fused !== false && fusedOptimizerAvailable()) {
    return new FusedOptimizer(resolveOptimizerSpec(spec), variables);
  }
  return createTfjsOptimizer(spec);
}
