/**
 * Every form of `data` that `cluster.train` accepts, turned into {@link TrainingData} on a worker:
 * a built-in data set, `{ xs, ys }` arrays (sent by the notebook, or returned by a data function),
 * a ringbook {@link Dataset}, or a tf.data.Dataset streamed by element.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import type { Dataset } from "../data/dataset.js";
import { mnistDigits } from "../data/mnist-digits.js";
import { describeValue, hostLeaves, mapHostTree, readSampleTree, toSampleTree, type HostLeaf, type HostTree } from "../data/sample-arrays.js";
import { syntheticClassification } from "../data/synthetic.js";
import { TensorDataset } from "../data/tensor-dataset.js";
import { compileUserFunction, explainUserError } from "./function-scope.js";
import type { ModelPort } from "./model-io.js";
import { isTfDataset, streamTrainingData } from "./stream-data.js";
import type { BuiltinData, WorkerTrainSpec } from "./train-spec.js";
import type { Trainable } from "./trainable.js";
import { indexedTrainingData, type DataPlacement, type TrainingData } from "./training-data.js";

/** The forms `data` (or what a data function returns) may take, as the messages list them. */
export const acceptedDataForms =
  "{ xs, ys } (each a tf.Tensor, a typed array or nested arrays, or for several inputs or outputs an array or a name map of them); " +
  "a tf.data.Dataset of single samples { xs, ys } (unbatched); " +
  "a ringbook Dataset (new TensorDataset({ xs, ys }), new ArrayDataset(...), mnistDigits().train); " +
  'or { builtin: "mnist" | "synthetic" }';

/** True for a ringbook {@link Dataset} (read by index), as opposed to a tf.data.Dataset. */
export function isIndexedDataset(value: unknown): value is Dataset {
  return (
    typeof value === "object" &&
    value !== null &&
    !isTfDataset(value) &&
    typeof (value as { batch?: unknown }).batch === "function" &&
    typeof (value as { size?: unknown }).size === "number"
  );
}

/** What building the data needs: the function's context, the model (for array shapes) and where this rank reads. */
export interface DataBuildContext {
  context: object;
  trainable: Trainable;
  placement: DataPlacement;
}

/** Builds this rank's view of the run's data. Errors say what was given and what is accepted. */
export async function buildTrainingData(data: WorkerTrainSpec["data"], build: DataBuildContext): Promise<TrainingData> {
  if ("source" in data) {
    const dataFunction = compileUserFunction(data.source, "data");
    const lastTensorBefore = newestTensorId();
    let value: unknown;
    try {
      value = await dataFunction(build.context);
    } catch (error) {
      throw explainUserError(error, "data");
    }
    return fromValue(value, build, lastTensorBefore);
  }
  if ("inline" in data) return indexedTrainingData(datasetFromArrays(data.inline, build.trainable, "data"), build.placement);
  return indexedTrainingData(builtinDataset(data), build.placement);
}

function fromValue(value: unknown, build: DataBuildContext, lastTensorBefore: number): TrainingData {
  if (isTfDataset(value)) return streamTrainingData(value, build.placement);
  if (isIndexedDataset(value)) {
    if (!Number.isInteger(value.size) || value.size <= 0) throw new RingbookError("ERR_BAD_DATASET", `the data function's Dataset "${value.name}" has size ${value.size}; it needs samples`);
    return indexedTrainingData(value, build.placement);
  }
  if (typeof value === "object" && value !== null && "builtin" in value) return indexedTrainingData(builtinDataset(value as BuiltinData), build.placement);
  if (typeof value === "object" && value !== null && "xs" in value && "ys" in value) {
    const extra = Object.keys(value).filter((key) => key !== "xs" && key !== "ys");
    if (extra.length > 0) {
      throw new RingbookError("ERR_BAD_DATA", `the data function returned { xs, ys } with ${extra.join(", ")} besides; ringbook reads only xs (the inputs) and ys (the targets)`);
    }
    const dataset = datasetFromArrays(value, build.trainable, "data");
    // Tensors the function created for this are read now: free them (ones it kept from before stay).
    disposeCreatedTensors([value.xs, value.ys], lastTensorBefore);
    return indexedTrainingData(dataset, build.placement);
  }
  throw new RingbookError("ERR_BAD_DATA", `the data function returned ${describeValue(value)}; return one of: ${acceptedDataForms}`);
}

/** A built-in data set, built the same on every worker. */
export function builtinDataset(data: BuiltinData): Dataset {
  switch (data.builtin) {
    case "mnist": {
      const { train, test } = mnistDigits(data.sampleShape === undefined ? {} : { sampleShape: data.sampleShape });
      return data.split === "test" ? test : train;
    }
    case "synthetic":
      return syntheticClassification(data);
    default: {
      const impossible: never = data;
      throw new RingbookError("ERR_BAD_DATASET", `unknown built-in data set ${JSON.stringify(impossible)}`);
    }
  }
}

/**
 * `{ xs, ys }` arrays as a {@link TensorDataset}. Flat typed arrays take the shape of the model's
 * input or target they feed (`[n, 28, 28, 1]` from `n × 784` values for a CNN), where the model
 * declares it.
 */
export function datasetFromArrays(value: { xs: unknown; ys: unknown }, trainable: Trainable, name: string): TensorDataset {
  let xs = readSampleTree(value.xs, "xs");
  let ys = readSampleTree(value.ys, "ys");
  let size: number | undefined;
  const layers = trainable.layers;
  if (layers !== undefined) {
    const targetShapes: ModelPort[] = layers.ports.outputs.map((port, i) => ({
      name: port.name,
      sampleShape: layers.losses[i]?.name === "sparseCategoricalCrossentropy" ? port.sampleShape.slice(0, -1) : port.sampleShape,
    }));
    const expectedX = (key: number | string) => portFor(xs, key, layers.ports.inputs);
    const expectedY = (key: number | string) => portFor(ys, key, targetShapes);
    const shaped = [...hostLeaves(xs, "xs"), ...hostLeaves(ys, "ys")].find(({ leaf }) => leaf.shape !== undefined);
    size = shaped?.leaf.shape?.[0] ?? samplesFromFlat(ys, expectedY) ?? samplesFromFlat(xs, expectedX);
    if (size !== undefined) {
      const n = size;
      const reshape = (expected: (key: number | string) => ModelPort | undefined) => (leaf: HostLeaf, key: number | string): HostLeaf => {
        const sampleShape = fixedShape(expected(key));
        if (leaf.shape !== undefined || sampleShape === undefined || leaf.values.length !== n * product(sampleShape)) return leaf;
        return { ...leaf, shape: [n, ...sampleShape] };
      };
      xs = mapHostTree(xs, reshape(expectedX));
      ys = mapHostTree(ys, reshape(expectedY));
    }
  }
  return new TensorDataset({ name, xs: toSampleTree(xs), ys: toSampleTree(ys), ...(size === undefined ? {} : { size }) });
}

function portFor(tree: HostTree, key: number | string, ports: readonly ModelPort[]): ModelPort | undefined {
  if (tree.kind === "single") return ports.length === 1 ? ports[0] : undefined;
  return typeof key === "number" ? ports[key] : ports.find((port) => port.name === key);
}

function fixedShape(port: ModelPort | undefined): number[] | undefined {
  if (port === undefined || port.sampleShape.some((d) => d === null)) return undefined;
  return port.sampleShape as number[];
}

/** The sample count implied by the first flat array whose model shape is fixed. */
function samplesFromFlat(tree: HostTree, expected: (key: number | string) => ModelPort | undefined): number | undefined {
  for (const { key, leaf } of hostLeaves(tree, "")) {
    const shape = fixedShape(expected(key));
    if (leaf.shape !== undefined || shape === undefined) continue;
    const length = product(shape);
    if (length > 0 && leaf.values.length % length === 0) return leaf.values.length / length;
  }
  return undefined;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The id of the newest tensor so far: tensors with larger ids were made after this call. */
function newestTensorId(): number {
  const marker = tf.scalar(0);
  marker.dispose();
  return marker.id;
}

function disposeCreatedTensors(values: unknown[], lastTensorBefore: number): void {
  const visit = (value: unknown, depth: number): void => {
    if (value instanceof tf.Tensor) {
      if (value.id > lastTensorBefore && !value.isDisposed) value.dispose();
    } else if (depth < 2 && Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
    } else if (depth < 2 && typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) {
      for (const item of Object.values(value)) visit(item, depth + 1);
    }
  };
  for (const value of values) visit(value, 0);
}
