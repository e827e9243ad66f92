/**
 * Integer targets for a compiled tfjs model: ringbook trains on class indices and other targets
 * stored as int32 (or bool), but tfjs's own losses need float targets (its
 * `sparseCategoricalCrossentropy` floors them, which an int32 tensor refuses, and its other losses
 * subtract them from float predictions). A model ringbook hands out (`cluster.model()`,
 * `run.trainedModel()`, `loadModel`) casts such targets before its `evaluate`, `fit` and
 * `trainOnBatch` see them, so the data that trained it evaluates it.
 */
import tf from "../tfjs.cjs";

/** Marks a model already patched, so that patching twice does not cast twice. */
const acceptsIntegerTargets = Symbol("acceptsIntegerTargets");

/** Targets as tfjs's `evaluate`, `fit` and `trainOnBatch` take them. */
type Targets = tf.Tensor | tf.Tensor[] | { [outputName: string]: tf.Tensor };

/** `targets` with every int32 or bool tensor cast to float32; the casts are pushed to `created`. */
function floatTargets<T>(targets: T, created: tf.Tensor[]): T {
  const cast = (value: unknown): unknown => {
    if (!(value instanceof tf.Tensor) || (value.dtype !== "int32" && value.dtype !== "bool")) return value;
    const float = tf.cast(value, "float32");
    created.push(float);
    return float;
  };
  if (Array.isArray(targets)) return targets.map(cast) as T;
  if (targets instanceof tf.Tensor) return cast(targets) as T;
  if (typeof targets === "object" && targets !== null) return Object.fromEntries(Object.entries(targets).map(([name, value]) => [name, cast(value)])) as T;
  return targets;
}

/**
 * Makes `model`'s `evaluate`, `fit` and `trainOnBatch` take int32 and bool targets (cast to
 * float32 for the call, then freed). Idempotent.
 * @example
 * acceptIntegerTargets(model);
 * model.evaluate(xs, tf.tensor1d(labels, "int32")); // with loss "sparseCategoricalCrossentropy"
 */
export function acceptIntegerTargets(model: tf.LayersModel): void {
  const marked = model as tf.LayersModel & { [acceptsIntegerTargets]?: true };
  if (marked[acceptsIntegerTargets] === true) return;
  marked[acceptsIntegerTargets] = true;
  const evaluate = model.evaluate.bind(model);
  model.evaluate = (x, y, args) => {
    const created: tf.Tensor[] = [];
    try {
      return evaluate(x, floatTargets(y, created), args);
    } finally {
      tf.dispose(created);
    }
  };
  const fit = model.fit.bind(model);
  model.fit = async (x, y, args) => {
    const created: tf.Tensor[] = [];
    try {
      return await fit(x, floatTargets(y as Targets, created), args);
    } finally {
      tf.dispose(created);
    }
  };
  const trainOnBatch = model.trainOnBatch.bind(model);
  model.trainOnBatch = async (x, y) => {
    const created: tf.Tensor[] = [];
    try {
      return await trainOnBatch(x, floatTargets(y as Targets, created));
    } finally {
      tf.dispose(created);
    }
  };
}
