/** Rebuilds a model exported by a worker (see training/worker-train's exportTrainedModel) in this process. */
import tf from "../tfjs.cjs";
import type { ExportedModel } from "../training/worker-train.js";

/** A `tf.LayersModel` for a layers model; the named variables (as tensors) for a custom model. */
export async function importModel(exported: ExportedModel): Promise<tf.LayersModel | Record<string, tf.Tensor>> {
  // Whatever backend this process uses must be initialised before weights become tensors.
  await tf.ready();
  if (exported.kind === "layers") {
    return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: exported.modelTopology, weightSpecs: exported.weightSpecs, weightData: exported.weightData }));
  }
  return Object.fromEntries(exported.variables.map((variable) => [variable.name, tf.tensor(variable.values, variable.shape, "float32")]));
}
