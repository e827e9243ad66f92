/**
 * Keras-style metrics (`metrics: ["accuracy", "mae", ...]`), computed so that ranks can add them up:
 * every metric reduces a batch to a few sums (a sum of per-sample values, or counts for
 * precision and recall), the sums of all batches and ranks are all-reduced, and the value is
 * computed from the totals. So a metric over a sharded data set equals the metric over the whole
 * set in one process (up to float rounding), whatever the shards.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { suggestName } from "./option-names.js";

/** A metric as a function: `(yTrue, yPred) => tensor`, per sample (`[n]`) or a scalar batch mean. */
export type MetricFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** A metric that adds up: the sums of one batch, and the value from the sums of many. */
interface SummableMetric {
  /** How many sums {@link sums} gives. */
  parts: number;
  /** The batch's sums, a `[parts]` tensor (created in the caller's tidy). */
  sums(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;
  /** The metric from the sums of every batch and rank, and their number of samples. */
  value(sums: ArrayLike<number>, samples: number): number;
}

/** Class indices `[n]` or `[n, 1]` (integers in any dtype) as int32 `[n]`. */
function labelsOf(yTrue: tf.Tensor): tf.Tensor {
  const flat = tf.reshape(yTrue, [-1]);
  return flat.dtype === "int32" ? flat : tf.cast(tf.round(flat), "int32");
}

function sparseCategoricalAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.equal(labelsOf(yTrue), tf.cast(tf.argMax(yPred, -1), "int32")), "float32"));
}

/** Keras's `accuracy` resolved per batch, as Keras resolves it at compile time: binary for one unit, sparse for class indices, categorical for one-hot. */
function accuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  if (yPred.shape[yPred.rank - 1] === 1) return tf.metrics.binaryAccuracy(yTrue.rank < yPred.rank ? tf.expandDims(yTrue, -1) : yTrue, yPred);
  const oneHot = yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === yPred.shape[yPred.rank - 1];
  return oneHot ? tf.metrics.categoricalAccuracy(yTrue, yPred) : sparseCategoricalAccuracy(yTrue, yPred);
}

/** A metric that is the mean of a per-sample value. */
function meanOf(fn: MetricFunction): SummableMetric {
  return {
    parts: 1,
    sums: (yTrue, yPred) => {
      const perSample = fn(yTrue, yPred);
      const n = yPred.shape[0] ?? 1;
      // A scalar is the batch's mean; a per-sample tensor is averaged over any axes past the first.
      const sum = perSample.rank === 0 ? tf.mul(perSample, n) : tf.div(tf.sum(perSample), perSample.shape.slice(1).reduce((a, b) => a * b, 1));
      return tf.reshape(tf.cast(sum, "float32"), [1]);
    },
    value: (sums, samples) => (samples === 0 ? Number.NaN : sums[0]! / samples),
  };
}

/** Precision or recall (Keras's, at threshold 0.5): true positives over predicted or actual positives. */
function ratioOfPositives(over: "predicted" | "actual"): SummableMetric {
  return {
    parts: 2,
    sums: (yTrue, yPred) => {
      const predicted = tf.cast(tf.greater(yPred, 0.5), "float32");
      const actual = tf.cast(tf.greater(yTrue.rank < yPred.rank ? tf.expandDims(yTrue, -1) : yTrue, 0.5), "float32");
      const truePositives = tf.sum(tf.mul(predicted, actual));
      return tf.stack([truePositives, tf.sum(over === "predicted" ? predicted : actual)]);
    },
    value: (sums) => (sums[1]! > 0 ? sums[0]! / sums[1]! : 0),
  };
}

const namedMetrics = {
  accuracy: meanOf(accuracy),
  categoricalAccuracy: meanOf(tf.metrics.categoricalAccuracy),
  sparseCategoricalAccuracy: meanOf(sparseCategoricalAccuracy),
  binaryAccuracy: meanOf((yTrue, yPred) => tf.metrics.binaryAccuracy(yTrue.rank < yPred.rank ? tf.expandDims(yTrue, -1) : yTrue, yPred)),
  meanSquaredError: meanOf(tf.metrics.meanSquaredError),
  meanAbsoluteError: meanOf(tf.metrics.meanAbsoluteError),
  precision: ratioOfPositives("predicted"),
  recall: ratioOfPositives("actual"),
} satisfies Record<string, SummableMetric>;

/** Short names, as Keras takes them; the logs use the short name the user gave. */
const aliases: Record<string, keyof typeof namedMetrics> = { acc: "accuracy", mse: "meanSquaredError", mae: "meanAbsoluteError" };

/** Names accepted in `metrics`. */
export type MetricName = keyof typeof namedMetrics | "acc" | "mse" | "mae";

/** Every metric name, in the order the messages list them. */
export const metricNames: readonly string[] = [...Object.keys(namedMetrics), ...Object.keys(aliases)];

/** True for a metric ringbook knows by name. */
export function isMetricName(value: unknown): value is MetricName {
  return typeof value === "string" && (Object.hasOwn(namedMetrics, value) || Object.hasOwn(aliases, value));
}

/** The error for a metric that is neither a known name nor a function. */
export function unknownMetric(value: unknown, where = ""): RingbookError {
  const suggestion = typeof value === "string" ? suggestName(value, metricNames) : "";
  return new RingbookError("ERR_UNKNOWN_METRIC", `unknown metric ${JSON.stringify(value) ?? String(value)}${where}${suggestion}; use a function (yTrue, yPred) => tensor or one of ${metricNames.join(", ")}`);
}

/** One metric of a run as it travels to the workers: a name, or a function's source with the name its logs use. */
export type MetricSpec = { name: MetricName } | { source: string; name: string };

/** One metric of one model output, ready to add up. */
export interface ResolvedMetric extends SummableMetric {
  /** Its name in the logs: the metric's name, prefixed by the output's when the model has several. */
  logName: string;
  /** The index of the output it measures. */
  output: number;
}

/**
 * The run's metrics for a model with these outputs: every metric applies to every output (a
 * single output's logs use the metric's name, several outputs' `<output>_<metric>`).
 * `compile` turns a function's source into the function.
 */
export function resolveMetrics(specs: readonly MetricSpec[], outputNames: readonly string[], compile: (source: string) => MetricFunction): ResolvedMetric[] {
  return outputNames.flatMap((outputName, output) =>
    specs.map((spec) => {
      let metric: SummableMetric;
      if ("source" in spec) metric = meanOf(compile(spec.source));
      else if (isMetricName(spec.name)) metric = namedMetrics[Object.hasOwn(aliases, spec.name) ? aliases[spec.name]! : (spec.name as keyof typeof namedMetrics)];
      else throw unknownMetric(spec.name);
      return { ...metric, output, logName: outputNames.length === 1 ? spec.name : `${outputName}_${spec.name}` };
    }),
  );
}

/**
 * The loss of each output of a model with several outputs, as metrics named `<output>_loss` (in
 * the logs next to the total `loss`, and `val_<output>_loss`), unweighted by `lossWeights`, as
 * Keras and tfjs log them. None for a model with one output (its loss is `loss`).
 */
export function outputLossMetrics(losses: ReadonlyArray<{ output: string; fn: MetricFunction }>): ResolvedMetric[] {
  if (losses.length < 2) return [];
  return losses.map((loss, output) => ({ ...meanOf(loss.fn), output, logName: `${loss.output}_loss` }));
}

/**
 * Adds up a run's metrics (and optionally a mean loss) over batches on one rank: one small read
 * per batch, no loop over samples in JavaScript. {@link reduce} turns the totals of all ranks,
 * all-reduced once, into the logs.
 */
export class MetricSums {
  readonly #metrics: readonly ResolvedMetric[];
  /** Slot 0: loss × samples; slot 1: samples; then each metric's sums. */
  readonly #sums: Float64Array;

  constructor(metrics: readonly ResolvedMetric[]) {
    this.#metrics = metrics;
    this.#sums = new Float64Array(2 + metrics.reduce((n, metric) => n + metric.parts, 0));
  }

  /** Counts a batch's samples (once per batch, whichever of {@link add} and {@link addLoss} it gets). */
  count(samples: number): void {
    this.#sums[1]! += samples;
  }

  /** Adds a batch's mean loss, weighted by its samples. */
  addLoss(meanLoss: number, samples: number): void {
    this.#sums[0]! += meanLoss * samples;
  }

  /** Adds the metric sums of one batch from its outputs and targets (one per output). */
  add(outputs: readonly tf.Tensor[], targets: readonly tf.Tensor[]): void {
    if (this.#metrics.length === 0) return;
    const sums = tf.tidy(() =>
      tf.concat(
        this.#metrics.map((metric) => {
          const yPred = outputs[metric.output];
          const yTrue = targets[metric.output];
          if (yPred === undefined || yTrue === undefined) {
            throw new RingbookError("ERR_METRIC_OUTPUTS", `metric "${metric.logName}" measures output ${metric.output}, but the batch has ${outputs.length} outputs and ${targets.length} targets`);
          }
          return metric.sums(yTrue, yPred);
        }),
      ),
    );
    try {
      const values = sums.dataSync();
      for (let i = 0; i < values.length; i++) this.#sums[2 + i]! += values[i]!;
    } finally {
      sums.dispose();
    }
  }

  /** These sums as the payload of one all-reduce. */
  get payload(): Float32Array {
    return Float32Array.from(this.#sums);
  }

  /** Starts afresh (for the next epoch or validation pass). */
  reset(): void {
    this.#sums.fill(0);
  }

  /**
   * The logs from all ranks' sums (an all-reduced {@link payload}): `loss` (when losses were
   * added) and one entry per metric, each name prefixed by `prefix`.
   */
  logs(reduced: ArrayLike<number>, options: { prefix?: string; withLoss: boolean }): Record<string, number> {
    const prefix = options.prefix ?? "";
    const samples = reduced[1]!;
    const logs: Record<string, number> = {};
    if (options.withLoss) logs[`${prefix}loss`] = samples === 0 ? Number.NaN : reduced[0]! / samples;
    let offset = 2;
    for (const metric of this.#metrics) {
      logs[`${prefix}${metric.logName}`] = metric.value(Array.from({ length: metric.parts }, (_, i) => reduced[offset + i]!), samples);
      offset += metric.parts;
    }
    return logs;
  }
}
