import { readFile } from "node:fs/promises";
import { join } from "node:path";
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { isJsonObject } from "../json-guards.js";
import { readableDirectory, replaceDirectory, writeFileDurably } from "../io/atomic-directory.js";
import { isModelDirectory } from "../io/file-system.js";
import { writeModelFiles } from "../io/model-files.js";
import { loadModel } from "../io/save-model.js";

/** Where a run stood when its checkpoint was written. */
export interface TrainingPosition {
  /** Epoch to continue in, from 0. */
  epoch: number;
  /** First step of `epoch` not yet applied. */
  stepInEpoch: number;
  /** Steps applied since the run (or its first ancestor) began. */
  globalStep: number;
}

const stateFile = "ringbook-checkpoint.json";
const weightsFile = "weights.bin";
const optimizerFile = "optimizer.bin";

interface CheckpointManifest {
  format: "ringbook-checkpoint/1";
  position: TrainingPosition;
  variables: Array<{ shape: number[] }>;
  /** Optimizer slots: which variable (by index, as names differ between processes) and suffix. */
  optimizerSlots: Array<{ variableIndex: number | null; suffix: string; shape: number[]; dtype: "float32" | "int32" }>;
}

/**
 * Writes a checkpoint directory: the model in tfjs format (`model.json` + `model-weights.bin`,
 * loadable with `loadModel(dir)` and `tf.loadLayersModel("file://dir/model.json")`) when it is a
 * layers model, the trainable variables and the optimizer state by position, and the training
 * position. Written into a temporary sibling and renamed into place (see io/atomic-directory), so
 * a crash or a failure mid-write leaves the previous checkpoint readable.
 */
export async function saveCheckpoint(options: {
  dir: string;
  model: unknown;
  variables: readonly tf.Variable[];
  optimizer: tf.Optimizer;
  position: TrainingPosition;
}): Promise<void> {
  try {
    await replaceDirectory(options.dir, (temporary) => writeCheckpoint(options, temporary), { owns: isModelDirectory, what: "a checkpoint" });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RingbookError("ERR_CHECKPOINT", `writing the checkpoint to ${options.dir} failed (the previous one, if any, is intact): ${reason}`, { cause: error });
  }
}

async function writeCheckpoint(options: Parameters<typeof saveCheckpoint>[0], temporary: string): Promise<void> {
  const { variables, optimizer, position } = options;
  if (options.model instanceof tf.LayersModel) {
    await options.model.save(
      tf.io.withSaveHandler(async (artifacts) => ({ modelArtifactsInfo: await writeModelFiles(temporary, artifacts, { weightsName: "model-weights.bin" }) })),
    );
  }
  const variableBytes = concatenate(variables.map((v) => v.dataSync() as Float32Array));
  const slots = await optimizer.getWeights();
  const names = variables.map((v) => v.name);
  const optimizerSlots = slots.map(({ name, tensor }) => {
    const variableIndex = names.findIndex((variableName) => name.startsWith(`${variableName}/`));
    return {
      variableIndex: variableIndex >= 0 ? variableIndex : null,
      suffix: variableIndex >= 0 ? name.slice(names[variableIndex]!.length) : name,
      shape: tensor.shape,
      dtype: tensor.dtype === "int32" ? ("int32" as const) : ("float32" as const),
    };
  });
  const optimizerBytes = concatenate(slots.map(({ tensor }) => tensor.dataSync() as Float32Array | Int32Array));
  // The slots are the optimizer's own variables, except what getWeights() makes for the occasion
  // (the iteration count, a new scalar every call; every slot, from ringbook's fused optimizer):
  // those are this function's to dispose.
  tf.dispose(slots.map(({ tensor }) => tensor).filter((tensor) => !(tensor instanceof tf.Variable)));
  const manifest: CheckpointManifest = {
    format: "ringbook-checkpoint/1",
    position,
    variables: variables.map((v) => ({ shape: v.shape })),
    optimizerSlots,
  };
  await writeFileDurably(join(temporary, weightsFile), variableBytes);
  await writeFileDurably(join(temporary, optimizerFile), optimizerBytes);
  await writeFileDurably(join(temporary, stateFile), JSON.stringify(manifest, null, 1));
}

/**
 * Restores variables and optimizer state written by {@link saveCheckpoint} into a freshly built
 * model with the same architecture, and returns where training stood.
 */
export async function loadCheckpoint(options: {
  dir: string;
  variables: readonly tf.Variable[];
  optimizer: tf.Optimizer;
}): Promise<TrainingPosition> {
  const { variables, optimizer } = options;
  // `dir`, or the previous checkpoint when a save was cut between its renames.
  const dir = await readableDirectory(options.dir, stateFile);
  const manifest = parseManifest(JSON.parse(await readFile(join(dir, stateFile), "utf8")), dir);
  if (manifest.variables.length !== variables.length ||
      manifest.variables.some((spec, i) => spec.shape.join("x") !== variables[i]!.shape.join("x"))) {
    throw new RingbookError(
      "ERR_CHECKPOINT_MISMATCH",
      `checkpoint ${dir} holds variables [${manifest.variables.map((v) => v.shape.join("x")).join(", ")}], the model has [${variables.map((v) => v.shape.join("x")).join(", ")}]`,
    );
  }
  const weights = bytesAsFloat32(await readFile(join(dir, weightsFile)));
  let offset = 0;
  tf.tidy(() => {
    for (const variable of variables) {
      variable.assign(tf.tensor(weights.subarray(offset, offset + variable.size), variable.shape, "float32"));
      offset += variable.size;
    }
  });
  const optimizerBuffer = await readFile(join(dir, optimizerFile));
  let byteOffset = 0;
  const slots: Array<{ name: string; tensor: tf.Tensor }> = manifest.optimizerSlots.map((slot) => {
    const size = slot.shape.reduce((a, b) => a * b, 1);
    const bytes = optimizerBuffer.buffer.slice(optimizerBuffer.byteOffset + byteOffset, optimizerBuffer.byteOffset + byteOffset + size * 4);
    byteOffset += size * 4;
    const values = slot.dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
    const name = slot.variableIndex === null ? slot.suffix : `${variables[slot.variableIndex]!.name}${slot.suffix}`;
    return { name, tensor: tf.tensor(values, slot.shape, slot.dtype) };
  });
  await optimizer.setWeights(slots);
  tf.dispose(slots.map((slot) => slot.tensor));
  return manifest.position;
}

/**
 * Loads the layers model of a checkpoint directory (tfjs format) without tfjs-node.
 * @deprecated use `loadModel(dir)`, which reads checkpoints and saved models alike.
 */
export async function loadLayersModelFromDir(checkpointDir: string): Promise<tf.LayersModel> {
  return loadModel(checkpointDir);
}

function concatenate(arrays: Array<Float32Array | Int32Array>): Buffer {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

function bytesAsFloat32(buffer: Buffer): Float32Array {
  return new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}

function parseManifest(value: unknown, dir: string): CheckpointManifest {
  const bad = (why: string): never => {
    throw new RingbookError("ERR_BAD_CHECKPOINT", `${join(dir, stateFile)}: ${why}`);
  };
  if (!isJsonObject(value)) return bad("not a JSON object");
  if (value["format"] !== "ringbook-checkpoint/1") return bad(`format ${JSON.stringify(value["format"])}, expected "ringbook-checkpoint/1"`);
  const position = value["position"];
  const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;
  if (!isJsonObject(position) || !isCount(position["epoch"]) || !isCount(position["stepInEpoch"]) || !isCount(position["globalStep"])) {
    return bad(`position ${JSON.stringify(position)} needs non-negative integers epoch, stepInEpoch, globalStep`);
  }
  const shapeOf = (s: unknown): number[] | undefined => (Array.isArray(s) && s.every(isCount) ? s.map(Number) : undefined);
  const variables = value["variables"];
  if (!Array.isArray(variables)) return bad("variables must be a list of { shape }");
  const variableShapes = variables.map((v: unknown) => ({ shape: (isJsonObject(v) ? shapeOf(v["shape"]) : undefined) ?? bad("variables must be a list of { shape }") }));
  const slots = value["optimizerSlots"];
  const badSlots = (): never => bad("optimizerSlots must be a list of { variableIndex, suffix, shape, dtype }");
  if (!Array.isArray(slots)) return badSlots();
  const optimizerSlots = slots.map((slot: unknown): CheckpointManifest["optimizerSlots"][number] => {
    if (!isJsonObject(slot)) return badSlots();
    const { variableIndex, suffix, dtype } = slot;
    const shape = shapeOf(slot["shape"]);
    if (!(variableIndex === null || isCount(variableIndex)) || typeof suffix !== "string" || shape === undefined || (dtype !== "float32" && dtype !== "int32")) return badSlots();
    return { variableIndex, suffix, shape, dtype };
  });
  return {
    format: "ringbook-checkpoint/1",
    position: { epoch: position["epoch"], stepInEpoch: position["stepInEpoch"], globalStep: position["globalStep"] },
    variables: variableShapes,
    optimizerSlots,
  };
}
