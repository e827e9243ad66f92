import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";

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
 * Writes a checkpoint directory: the model in tfjs format (`model.json` + `weights.bin`, loadable
 * with `tf.loadLayersModel`) when it is a layers model, the trainable variables and the optimizer
 * state by position, and the training position. Written into a temporary sibling and renamed into
 * place, so a crash or a failure mid-write leaves the previous checkpoint readable.
 */
export async function saveCheckpoint(options: {
  dir: string;
  model: unknown;
  variables: readonly tf.Variable[];
  optimizer: tf.Optimizer;
  position: TrainingPosition;
}): Promise<void> {
  const temporary = `${options.dir}.writing-${process.pid}`;
  try {
    await writeCheckpoint(options, temporary);
  } catch (error) {
    // A full disk may refuse even this; the next save removes it first anyway.
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new RingbookError("ERR_CHECKPOINT", `writing the checkpoint to ${options.dir} failed (the previous one, if any, is intact): ${reason}`, { cause: error });
  }
}

async function writeCheckpoint(options: Parameters<typeof saveCheckpoint>[0], temporary: string): Promise<void> {
  const { dir, variables, optimizer, position } = options;
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary, { recursive: true });
  if (options.model instanceof tf.LayersModel) {
    await options.model.save(tf.io.withSaveHandler(async (artifacts) => writeLayersModel(temporary, artifacts)));
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
  await writeFile(join(temporary, weightsFile), variableBytes);
  await writeFile(join(temporary, optimizerFile), optimizerBytes);
  await writeFile(join(temporary, stateFile), JSON.stringify(manifest, null, 1));
  // Two renames, the old checkpoint kept until the new one is in place: a failure or a crash
  // between them leaves `<dir>.previous`, which the loaders read when `dir` is missing.
  const previous = previousOf(dir);
  await rm(previous, { recursive: true, force: true });
  await rename(dir, previous).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  });
  try {
    await rename(temporary, dir);
  } catch (error) {
    await rename(previous, dir).catch(() => undefined);
    throw error;
  }
  await rm(previous, { recursive: true, force: true });
}

/** Where the checkpoint before the last one waits while the last is renamed into place. */
function previousOf(dir: string): string {
  return `${dir}.previous`;
}

/** The checkpoint directory to read: `dir`, or the previous checkpoint when a save was cut between its renames. */
async function readableCheckpoint(dir: string): Promise<string> {
  const hasState = async (candidate: string): Promise<boolean> => stat(join(candidate, stateFile)).then(() => true, () => false);
  if (await hasState(dir)) return dir;
  const previous = previousOf(dir);
  return (await hasState(previous)) ? previous : dir;
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
  const dir = await readableCheckpoint(options.dir);
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

async function writeLayersModel(dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  const weightData = artifacts.weightData;
  const buffers = weightData === undefined ? [] : Array.isArray(weightData) ? weightData : [weightData];
  await writeFile(join(dir, "model-weights.bin"), Buffer.concat(buffers.map((b) => new Uint8Array(b))));
  const modelJson = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    trainingConfig: artifacts.trainingConfig,
    weightsManifest: [{ paths: ["model-weights.bin"], weights: artifacts.weightSpecs ?? [] }],
  };
  await writeFile(join(dir, "model.json"), JSON.stringify(modelJson));
  return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
}

/** Loads a layers model saved in a checkpoint directory (tfjs format) without tfjs-node. */
export async function loadLayersModelFromDir(checkpointDir: string): Promise<tf.LayersModel> {
  const dir = await readableCheckpoint(checkpointDir);
  const modelJson: unknown = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  if (typeof modelJson !== "object" || modelJson === null || !("modelTopology" in modelJson) || !("weightsManifest" in modelJson)) {
    throw new RingbookError("ERR_BAD_CHECKPOINT", `${dir}/model.json is not a tfjs layers model (no modelTopology/weightsManifest)`);
  }
  const manifest = modelJson.weightsManifest as tf.io.WeightsManifestConfig;
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const buffers = await Promise.all(manifest.flatMap((group) => group.paths).map((path) => readFile(join(dir, path))));
  const weightData = new Uint8Array(Buffer.concat(buffers)).buffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology as object, weightSpecs, weightData }));
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
  if (typeof value !== "object" || value === null) return bad("not a JSON object");
  const record = value as Record<string, unknown>;
  if (record.format !== "ringbook-checkpoint/1") return bad(`format ${JSON.stringify(record.format)}, expected "ringbook-checkpoint/1"`);
  const position = record.position as Record<string, unknown> | undefined;
  const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;
  if (!position || !isCount(position.epoch) || !isCount(position.stepInEpoch) || !isCount(position.globalStep)) {
    return bad(`position ${JSON.stringify(position)} needs non-negative integers epoch, stepInEpoch, globalStep`);
  }
  const isShape = (s: unknown): s is number[] => Array.isArray(s) && s.every(isCount);
  const variables = record.variables;
  if (!Array.isArray(variables) || !variables.every((v) => typeof v === "object" && v !== null && isShape((v as { shape?: unknown }).shape))) {
    return bad("variables must be a list of { shape }");
  }
  const slots = record.optimizerSlots;
  if (!Array.isArray(slots) || !slots.every((s) => {
    const slot = s as Record<string, unknown>;
    return (slot.variableIndex === null || isCount(slot.variableIndex)) && typeof slot.suffix === "string" && isShape(slot.shape) &&
      (slot.dtype === "float32" || slot.dtype === "int32");
  })) {
    return bad("optimizerSlots must be a list of { variableIndex, suffix, shape, dtype }");
  }
  return value as CheckpointManifest;
}
