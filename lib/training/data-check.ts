/**
 * Checks a rank's first batch against the model before any step: the inputs and targets in the
 * model's structure and shapes (both shapes named in the message), class labels within the
 * model's units, and one forward pass with the loss in inference mode, so that a loss that fails
 * on this data fails here, on every rank, instead of inside tfjs in the first step.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { formatBatchShape, sampleCount, type Batch } from "../data/tensor-tree.js";
import { explainUserError } from "./function-scope.js";
import type { ResolvedLoss } from "./losses.js";
import { arrange, formatPort, type ModelPort } from "./model-io.js";
import type { Trainable } from "./trainable.js";

/** Where the batch came from, for the hints of the messages. */
export interface BatchOrigin {
  kind: "indexed" | "stream";
}

/** Throws a {@link RingbookError} (code `ERR_DATA_SHAPE`) that says what to fix when `batch` does not fit the model. */
export function checkFirstBatch(trainable: Trainable, batch: Batch, origin: BatchOrigin): void {
  if (trainable.layers === undefined) {
    probe(() => {
      const loss = trainable.loss(batch.xs, batch.ys);
      if (loss.rank !== 0) throw new RingbookError("ERR_BAD_MODEL", `the custom model's loss(xs, ys) returned shape [${loss.shape.join(", ")}]; it must return a scalar (the batch mean)`);
    }, "the custom model's loss");
    return;
  }
  const { ports, losses } = trainable.layers;
  const inputs = arrange(batch.xs, ports.inputs, "inputs");
  const several = (list: readonly ModelPort[]) => list.length > 1;
  inputs.forEach((tensor, i) => {
    const port = ports.inputs[i]!;
    const data = tensor.shape.slice(1);
    if (fits(data, port.sampleShape)) return;
    const label = several(ports.inputs) ? ` "${port.name}"` : "";
    const batched =
      origin.kind === "stream" && data.length === port.sampleShape.length + 1 && fits(data.slice(1), port.sampleShape)
        ? `: the tf.data.Dataset's elements look batched (each holds ${data[0]} samples); give it unbatched (before .batch()): ringbook batches by batchSize`
        : "";
    throw shapeError(`inputs${label} ${formatBatchShape(data)} do not match the model's input${label} ${formatPort(port)}${batched}`);
  });
  const targets = arrange(batch.ys, ports.outputs, "targets");
  targets.forEach((tensor, i) => checkTargets(tensor, ports.outputs[i]!, losses[i]!, several(ports.outputs), origin));
  probe(() => {
    const outputs = trainable.predict(batch.xs);
    const list = Array.isArray(outputs) ? outputs : [outputs];
    losses.forEach((resolved, i) => {
      const perSample = resolved.fn(resolved.name === "sparseCategoricalCrossentropy" ? targets[i]! : expandLike(targets[i]!, list[i]!), list[i]!);
      if (perSample.rank !== 0 && perSample.shape[0] !== sampleCount(batch.xs)) {
        throw new RingbookError(
          "ERR_DATA_SHAPE",
          `the loss of output "${resolved.output}" returned shape [${perSample.shape.join(", ")}] for ${sampleCount(batch.xs)} samples; a loss returns one value per sample ([n]) or their mean (a scalar)`,
        );
      }
    });
  }, "the loss");
}

function checkTargets(tensor: tf.Tensor, port: ModelPort, loss: ResolvedLoss, several: boolean, origin: BatchOrigin): void {
  const data = tensor.shape.slice(1);
  const output = port.sampleShape;
  const label = several ? ` "${port.name}"` : "";
  const units = output[output.length - 1];
  if (loss.name === "sparseCategoricalCrossentropy") {
    const expected = output.slice(0, -1);
    if (!fits(data, expected) && !fits(data, [...expected, 1])) {
      throw shapeError(
        `targets${label} ${formatBatchShape(data)} do not fit sparseCategoricalCrossentropy on the model's output${label} ${formatPort(port)}: it takes class indices ${formatBatchShape(expected)}` +
          (fits(data, output) ? "; for one-hot targets use categoricalCrossentropy" : ""),
      );
    }
    const labels = tensor.dataSync();
    let largest = -Infinity;
    for (let i = 0; i < labels.length; i++) {
      const value = labels[i] as number;
      if (!Number.isInteger(value) || value < 0) throw shapeError(`targets${label} hold ${value}, which is not a class index (an integer from 0) as sparseCategoricalCrossentropy needs`);
      largest = Math.max(largest, value);
    }
    if (typeof units === "number" && largest >= units) {
      throw shapeError(`model output${label} has ${units} units but targets${label} hold class ${largest}: give the last layer at least ${largest + 1} units (one per class)`);
    }
    return;
  }
  if (loss.name === undefined) return; // a custom loss decides what its targets look like; the probe runs it
  if (fits(data, output) || fits([...data, 1], output)) return;
  if (loss.name === "categoricalCrossentropy" && data.length === output.length && fits(data.slice(0, -1), output.slice(0, -1)) && typeof units === "number") {
    throw shapeError(`model output${label} has ${units} units but targets${label} have ${data[data.length - 1]} classes (targets ${formatBatchShape(data)}, output ${formatPort(port)})`);
  }
  const sparseHint =
    loss.name === "categoricalCrossentropy" && fits(data, output.slice(0, -1)) ? `; for class indices use loss "sparseCategoricalCrossentropy"` : "";
  const streamHint = origin.kind === "stream" && data.length === output.length + 1 ? " (the tf.data.Dataset's elements look batched; give it unbatched)" : "";
  throw shapeError(`targets${label} ${formatBatchShape(data)} do not match the model's output${label} ${formatPort(port)}${sparseHint}${streamHint}`);
}

/** True when a sample shape fits a model's (where `null` takes any size). */
function fits(data: readonly number[], model: ReadonlyArray<number | null>): boolean {
  return data.length === model.length && data.every((d, i) => model[i] === null || model[i] === d);
}

function expandLike(target: tf.Tensor, output: tf.Tensor): tf.Tensor {
  return target.rank === output.rank - 1 && output.shape[output.rank - 1] === 1 ? target.expandDims(-1) : target;
}

function probe(run: () => void, what: string): void {
  try {
    tf.tidy(run);
  } catch (error) {
    if (error instanceof RingbookError) throw error;
    const explained = explainUserError(error, "loss");
    if (explained !== error) throw explained;
    throw new RingbookError("ERR_DATA_SHAPE", `${what} failed on the first batch, before training: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function shapeError(message: string): RingbookError {
  return new RingbookError("ERR_DATA_SHAPE", message);
}
