/**
 * Saving and loading trained models from a notebook or a plain Node script: `saveModel(model,
 * dir)` and `loadModel(dir)`, in tfjs's format for layers models, and as named arrays for custom
 * models (their code cannot be saved, only their variables).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { acceptIntegerTargets } from "../data/integer-targets.js";
import { isJsonObject, quote } from "../json-guards.js";
import { readableDirectory, replaceDirectory, writeFileDurably } from "./atomic-directory.js";
import { fileSystem, isModelDirectory, type FileSystemOptions } from "./file-system.js";
import { missingModelError, parseWeightsManifest, readWeightFiles, variablesJsonName } from "./model-files.js";

/** What {@link saveModel} wrote. */
export interface SavedModelInfo {
  /** The model's directory. */
  dir: string;
  /** `"layers"`: tfjs format (`model.json`); `"variables"`: a custom model's variables (`variables.json`). */
  kind: "layers" | "variables";
  /** Whether the training configuration (loss, metrics, optimizer and its state) was saved: a layers model loads compiled. */
  compiled: boolean;
  /** Bytes of weights written. */
  weightBytes: number;
}

/** A model {@link saveModel} takes: a layers model, or anything with `variables` (a custom model). */
export type SavableModel = tf.LayersModel | { readonly variables: readonly tf.Tensor[] };

/** A variable read back by {@link loadVariables}. */
export interface NamedArray {
  name: string;
  tensor: tf.Tensor;
}

/**
 * Saves a model into the directory `dir` (created with its parents; replaced atomically if it
 * holds a model already, refused if it holds other files).
 *
 * - A `tf.LayersModel` is written in tfjs's format (`model.json` + `weights.bin`): readable by
 *   {@link loadModel}, by `tf.loadLayersModel("file://dir/model.json")` after importing ringbook,
 *   by tfjs-node and by tfjs in a browser. A compiled model whose loss and metrics are named
 *   (`"categoricalCrossentropy"`, not a function) is saved with its training configuration and
 *   optimizer state, so it loads compiled: `evaluate` and `fit` work at once. A loss given as a
 *   function cannot be saved: such a model loads uncompiled (`compile` it again).
 * - A custom model (`{ variables, loss, predict }`, as `cluster.model()` gives for one) is code
 *   and variables; only the variables can be saved: `variables.json` (a tfjs weights manifest:
 *   name, shape, dtype of each, in order) and `weights.bin`. Read them back with
 *   {@link loadVariables} and assign them to the model's variables, which the model's function
 *   builds again.
 * @example
 * const model = await cluster.model();
 * await saveModel(model, "runs/exp3");
 * const again = await loadModel("runs/exp3");   // in this or any other process
 */
export async function saveModel(model: SavableModel, dir: string, options: FileSystemOptions = {}): Promise<SavedModelInfo> {
  const path = checkDir(dir, "saveModel");
  if (isLayersModel(model)) {
    const compiled = hasSerializableTrainingConfig(model);
    const result = await model.save(fileSystem(path, options), { includeOptimizer: compiled });
    return { dir: path, kind: "layers", compiled, weightBytes: result.modelArtifactsInfo.weightDataBytes ?? 0 };
  }
  if (typeof model !== "object" || model === null || !("variables" in model)) {
    throw new RingbookError("ERR_BAD_MODEL", `saveModel expects a tf.LayersModel or a custom model { variables }, got ${describeValue(model)}`);
  }
  const variables: unknown = model.variables;
  if (!Array.isArray(variables) || !variables.every((v: unknown) => v instanceof tf.Tensor)) {
    throw new RingbookError("ERR_BAD_MODEL", `saveModel: the model's variables must be an array of tf.Variable, got ${describeValue(variables)}`);
  }
  const named: NamedArray[] = variables.map((tensor: tf.Tensor, i) => ({ name: tensor instanceof tf.Variable ? tensor.name : `variable_${i}`, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  try {
    await replaceDirectory(
      path,
      async (temporary) => {
        await writeFileDurably(join(temporary, "weights.bin"), new Uint8Array(data));
        const manifest = { format: variablesFormat, weightsManifest: [{ paths: ["weights.bin"], weights: specs }] };
        await writeFileDurably(join(temporary, variablesJsonName), JSON.stringify(manifest));
      },
      { owns: isModelDirectory, what: "a model's variables" },
    );
  } catch (error) {
    if (error instanceof RingbookError) throw error;
    throw new RingbookError("ERR_MODEL_SAVE", `writing the variables to ${path} failed (the model that was there, if any, is intact): ${(error as Error).message}`, { cause: error });
  }
  return { dir: path, kind: "variables", compiled: false, weightBytes: data.byteLength };
}

/**
 * Loads a layers model saved by {@link saveModel}, `model.save("file://...")`, tfjs-node or a
 * training checkpoint (`checkpoint: { dir }` in `cluster.train`), from its directory or its
 * `model.json`. It is compiled when it was saved compiled (see {@link saveModel}). Errors say
 * what is wrong: no such directory, a directory without a model (or with a custom model's
 * variables), a damaged `model.json`, a missing or truncated weights file.
 * @example
 * const model = await loadModel("runs/exp3");
 * const loss = model.evaluate(xs, ys) as tf.Scalar;
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const path = checkDir(dir, "loadModel");
  // Whatever backend this process uses must be initialised before weights become tensors.
  await tf.ready();
  const model = await tf.loadLayersModel(fileSystem(path));
  // Loaded compiled, it evaluates with the int32 targets it was trained on, as it did before saving.
  acceptIntegerTargets(model);
  return model;
}

/**
 * Reads the variables of a custom model saved by {@link saveModel}, in the order they were saved
 * (the order of the model's `variables`). Assign them to a model built again by its function:
 * @example
 * const saved = await loadVariables("runs/custom");
 * model.variables.forEach((variable, i) => variable.assign(saved[i]!.tensor));
 * tf.dispose(saved.map((v) => v.tensor));
 */
export async function loadVariables(dir: string): Promise<NamedArray[]> {
  const path = await readableDirectory(checkDir(dir, "loadVariables"), variablesJsonName);
  const file = join(path, variablesJsonName);
  const text = await readFile(file, "utf8").catch(async (cause: unknown) => {
    // Not a variables directory: say what it is instead (missing, a layers model, something else).
    const layers = await readFile(join(path, "model.json")).then(() => true, () => false);
    if (layers) throw new RingbookError("ERR_NOT_VARIABLES", `${path} holds a layers model (model.json), not a custom model's variables: load it with loadModel(${quote(path)})`, { cause });
    throw await missingModelError(path, variablesJsonName, cause);
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RingbookError("ERR_BAD_MODEL_JSON", `${file} is not valid JSON (${(error as Error).message}): the file is damaged; save the model again`, { cause: error });
  }
  if (!isJsonObject(value) || value.format !== variablesFormat) {
    throw new RingbookError("ERR_BAD_MODEL_JSON", `${file} is not a ringbook variables file: expected format ${quote(variablesFormat)}, got ${quote(isJsonObject(value) ? value.format : value)}`);
  }
  const manifest = parseWeightsManifest(value.weightsManifest, (why) => {
    throw new RingbookError("ERR_BAD_MODEL_JSON", `${file} is not a ringbook variables file: ${why}`);
  });
  const { weightSpecs, weightData } = await readWeightFiles(path, variablesJsonName, manifest);
  const tensors = tf.io.decodeWeights(weightData, weightSpecs);
  return weightSpecs.map((spec) => ({ name: spec.name, tensor: tensors[spec.name]! }));
}

/**
 * A layers model of this tfjs, or of another copy of tfjs in the process (a notebook may resolve
 * its own): `save` takes any IO handler, whichever tfjs made the model.
 */
function isLayersModel(model: unknown): model is tf.LayersModel {
  if (model instanceof tf.LayersModel) return true;
  if (typeof model !== "object" || model === null) return false;
  const candidate = model as Partial<Record<"save" | "getWeights" | "toJSON", unknown>>;
  return typeof candidate.save === "function" && typeof candidate.getWeights === "function" && typeof candidate.toJSON === "function";
}

/** The `format` of a custom model's `variables.json`. */
const variablesFormat = "ringbook-variables/1";

/**
 * True when tfjs can save this model's training configuration and load it back compiled: a loss
 * (and metrics) by name. tfjs throws on a function loss, and writes a function metric's name,
 * which it cannot resolve when loading.
 */
function hasSerializableTrainingConfig(model: tf.LayersModel): boolean {
  if (model.optimizer == null || model.loss == null) return false;
  const named = (value: unknown): boolean =>
    typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string")) || (isJsonObject(value) && Object.values(value).every((v) => typeof v === "string"));
  const metrics: unknown = model.metrics;
  return named(model.loss) && (metrics == null || named(metrics));
}

function checkDir(dir: unknown, caller: string): string {
  if (typeof dir !== "string" || dir === "") throw new RingbookError("ERR_BAD_OPTION", `${caller} needs a directory path, got ${describeValue(dir)}`);
  return dir.startsWith("file://") ? dir.slice("file://".length) : dir;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `${value.constructor?.name ?? "object"} ${quote(value)}`;
  return `${typeof value} ${quote(value)}`;
}
