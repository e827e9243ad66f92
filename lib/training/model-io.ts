/**
 * How a batch's inputs and targets meet a layers model: the tensors in the model's input and
 * output order (from one tensor, an array in that order, or a map by name), with the one
 * reshaping Keras also does (a missing trailing axis of size 1: targets `[n]` for an output
 * `[n, 1]`).
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { formatBatchShape, isTensor, type TensorTree } from "../data/tensor-tree.js";
import { suggestName } from "./option-names.js";

/** One input or output of a model: its name and the shape of one sample (`null`: any size). */
export interface ModelPort {
  name: string;
  sampleShape: ReadonlyArray<number | null>;
}

/** The inputs and outputs of a layers model. */
export interface ModelPorts {
  inputs: ModelPort[];
  outputs: ModelPort[];
}

/** The inputs and outputs of a layers model, in its order. */
export function portsOf(model: tf.LayersModel): ModelPorts {
  // A tf.Sequential fills in inputNames and outputNames only when it is built (at its first use):
  // the names are those of the layers the symbolic tensors come from.
  const port = (tensors: tf.SymbolicTensor[], names: string[]): ModelPort[] =>
    tensors.map((tensor, i) => ({ name: names.length === tensors.length ? names[i]! : tensor.sourceLayer.name, sampleShape: tensor.shape.slice(1) }));
  return { inputs: port(model.inputs, model.inputNames), outputs: port(model.outputs, model.outputNames) };
}

/**
 * The tensors of `tree` in the order of `ports`: one tensor for a single port, an array of one
 * per port (in order), or a map with each port's name. `what` is "inputs" or "targets".
 */
export function arrange(tree: TensorTree, ports: readonly ModelPort[], what: "inputs" | "targets"): tf.Tensor[] {
  const side = what === "inputs" ? "input" : "output";
  const names = ports.map((p) => p.name).join(", ");
  const key = what === "inputs" ? "xs" : "ys";
  if (isTensor(tree)) {
    if (ports.length !== 1) {
      throw new RingbookError(
        "ERR_DATA_STRUCTURE",
        `the model has ${ports.length} ${side}s (${names}) but ${key} is one tensor; give ${key} as an array in that order or a map { ${ports.map((p) => p.name).join(", ")} }`,
      );
    }
    return [tree];
  }
  if (Array.isArray(tree)) {
    if (tree.length !== ports.length) {
      throw new RingbookError(
        "ERR_DATA_STRUCTURE",
        `${key} has ${tree.length} arrays but the model has ${ports.length} ${side}${ports.length === 1 ? "" : "s"} (${names}); give one per ${side}, in that order`,
      );
    }
    return tree;
  }
  const map = tree as Record<string, tf.Tensor>;
  const known = ports.map((p) => p.name);
  for (const name of Object.keys(map)) {
    if (!known.includes(name)) {
      throw new RingbookError("ERR_DATA_STRUCTURE", `${key} has "${name}", which is not one of the model's ${side}s${suggestName(name, known)}; its ${side}s are ${names}`);
    }
  }
  return ports.map((port) => {
    const tensor = map[port.name];
    if (tensor === undefined) throw new RingbookError("ERR_DATA_STRUCTURE", `${key} has no "${port.name}": the model's ${side}s are ${names}`);
    return tensor;
  });
}

/**
 * `tensor` shaped for `port` when it lacks only a trailing axis of size 1 (`[n]` for `[n, 1]`,
 * `[n, 28, 28]` for `[n, 28, 28, 1]`); otherwise `tensor` itself. The caller disposes a new one.
 */
export function withTrailingAxis(tensor: tf.Tensor, sampleShape: ReadonlyArray<number | null>): tf.Tensor {
  if (tensor.rank === sampleShape.length && sampleShape[sampleShape.length - 1] === 1) return tensor.expandDims(-1);
  return tensor;
}

/** `[n, ...sampleShape]` of a model port as messages write it. */
export function formatPort(port: ModelPort): string {
  return formatBatchShape(port.sampleShape);
}
