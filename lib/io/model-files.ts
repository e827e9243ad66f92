/**
 * The tfjs model format on disk: `model.json` (topology, training config, and a `weightsManifest`
 * naming the weight files in order) and the weight files, whose bytes concatenated are the
 * weights in manifest order. What `tf.loadLayersModel` reads over HTTP and tfjs-node reads from
 * `file://`, read and written here with `node:fs` only.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { isJsonObject, quote } from "../json-guards.js";
import { writeFileDurably } from "./atomic-directory.js";

/** How {@link writeModelFiles} names and splits the weights. */
export interface WriteModelFilesOptions {
  /** The weights file when it is one file. @default "weights.bin" */
  weightsName?: string;
  /** Split the weights into files of at most this many bytes (`group1-shard1of3.bin`, ...), as tfjs's converter does. @default no split */
  shardBytes?: number;
  /** @default "model.json" */
  modelJsonName?: string;
}

/** Writes `artifacts` into `dir` (which exists and is empty) in the tfjs format. */
export async function writeModelFiles(dir: string, artifacts: tf.io.ModelArtifacts, options: WriteModelFilesOptions = {}): Promise<tf.io.ModelArtifactsInfo> {
  const { modelTopology } = artifacts;
  if (modelTopology instanceof ArrayBuffer) {
    throw new RingbookError("ERR_MODEL_SAVE", "this model's topology is binary (a graph model's protobuf); only JSON topologies (layers models) can be written to files");
  }
  const shardBytes = options.shardBytes;
  if (shardBytes !== undefined && (!Number.isSafeInteger(shardBytes) || shardBytes <= 0)) {
    throw new RingbookError("ERR_BAD_OPTION", `shardBytes must be a positive integer, got ${quote(shardBytes)}`);
  }
  const weights = concatenate(artifacts.weightData);
  const expected = expectedWeightBytes(artifacts.weightSpecs ?? []);
  if (expected !== undefined && expected !== weights.byteLength) {
    throw new RingbookError("ERR_MODEL_SAVE", `the model's weightSpecs describe ${expected} bytes of weights, its weightData holds ${weights.byteLength}: nothing was written`);
  }
  const shardCount = shardBytes === undefined ? 1 : Math.max(1, Math.ceil(weights.byteLength / shardBytes));
  const paths = shardCount === 1 ? [options.weightsName ?? "weights.bin"] : Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
  const manifest: tf.io.WeightsManifestConfig = [{ paths, weights: artifacts.weightSpecs ?? [] }];
  const modelJson: tf.io.ModelJSON = {
    modelTopology: modelTopology ?? {},
    weightsManifest: manifest,
    ...(artifacts.format === undefined ? {} : { format: artifacts.format }),
    ...(artifacts.generatedBy === undefined ? {} : { generatedBy: artifacts.generatedBy }),
    ...(artifacts.convertedBy === undefined ? {} : { convertedBy: artifacts.convertedBy }),
    ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
    ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
  };
  // Stringified before any file is written: a topology that cannot be serialised fails here.
  const json = JSON.stringify(modelJson);
  for (let i = 0; i < shardCount; i++) {
    const size = shardBytes ?? weights.byteLength;
    await writeFileDurably(join(dir, paths[i]!), weights.subarray(i * size, Math.min(weights.byteLength, (i + 1) * size)));
  }
  await writeFileDurably(join(dir, options.modelJsonName ?? "model.json"), json);
  return tf.io.getModelArtifactsInfoForJSON(artifacts);
}

/**
 * Reads a model written in the tfjs format from `dir`: `model.json` and every weight file its
 * manifest names, in order (sharded weights are concatenated). Every failure says which file and
 * what is wrong with it.
 */
export async function readModelFiles(dir: string, modelJsonName = "model.json"): Promise<tf.io.ModelArtifacts> {
  const modelJsonPath = join(dir, modelJsonName);
  const text = await readFile(modelJsonPath, "utf8").catch(async (error: unknown) => {
    throw await missingModelError(dir, modelJsonName, error);
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RingbookError(
      "ERR_BAD_MODEL_JSON",
      `${modelJsonPath} is not valid JSON (${(error as Error).message}; ${text.length} characters): the file is damaged or was not written by tfjs; save the model again`,
      { cause: error },
    );
  }
  const modelJson = parseModelJson(value, modelJsonPath);
  const { weightSpecs, weightData } = await readWeightFiles(dir, modelJsonName, modelJson.weightsManifest);
  return tf.io.getModelArtifactsForJSONSync(modelJson, weightSpecs, weightData);
}

/**
 * Reads the weights files a manifest names, in order (sharded weights are concatenated), and
 * checks their total size against the manifest. `manifestFile` names the file the manifest came
 * from, for errors.
 */
export async function readWeightFiles(
  dir: string,
  manifestFile: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<{ weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const files = manifest.flatMap((group) => group.paths);
  const buffers: Buffer[] = [];
  for (const path of files) {
    const file = join(dir, path);
    buffers.push(
      await readFile(file).catch((error: unknown) => {
        throw new RingbookError("ERR_MODEL_WEIGHTS", `${file}, a weights file listed in ${join(dir, manifestFile)}, cannot be read: ${(error as Error).message}`, { cause: error });
      }),
    );
  }
  const weightData = new Uint8Array(Buffer.concat(buffers)).buffer;
  const expected = expectedWeightBytes(weightSpecs);
  if (expected !== undefined && expected !== weightData.byteLength) {
    throw new RingbookError(
      "ERR_MODEL_WEIGHTS",
      `the weights files of ${dir} (${files.join(", ")}) hold ${weightData.byteLength} bytes, but the weightsManifest of ${manifestFile} describes ${expected}: a weights file is truncated or belongs to another model`,
    );
  }
  return { weightSpecs, weightData };
}

/** Why `model.json` (or `variables.json`) could not be read, in terms of what to do: a missing directory, a directory without a model. */
export async function missingModelError(dir: string, modelJsonName: string, cause: unknown): Promise<RingbookError> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) {
    return new RingbookError("ERR_MODEL_NOT_FOUND", `no model at ${dir}: the directory does not exist (relative paths start at ${process.cwd()})`, { cause });
  }
  if (!info.isDirectory()) {
    return new RingbookError("ERR_NOT_A_MODEL", `${dir} is a file, not a model directory; give the directory that holds ${modelJsonName}`, { cause });
  }
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (modelJsonName !== variablesJsonName && entries.includes(variablesJsonName)) {
    return new RingbookError(
      "ERR_NOT_A_MODEL",
      `${dir} holds the variables of a custom model (${variablesJsonName}), not a layers model: read them with loadVariables(${quote(dir)}) and assign them to the model's variables`,
      { cause },
    );
  }
  const shown = entries.length === 0 ? "it is empty" : `it holds ${entries.slice(0, 5).join(", ")}${entries.length > 5 ? ", …" : ""}`;
  return new RingbookError(
    "ERR_NOT_A_MODEL",
    `${dir} is not a model directory: it has no ${modelJsonName} (${shown}); give a directory written by saveModel, model.save("file://...") or a training checkpoint`,
    { cause },
  );
}

/** The file a custom model's variables are described in (see save-model.ts). */
export const variablesJsonName = "variables.json";

const dtypes = ["float32", "int32", "bool", "string", "complex64"] as const;
const quantizedDtypes = ["uint8", "uint16", "float16"] as const;

/** Checks a `model.json` value field by field; the error names the file and the field. */
export function parseModelJson(value: unknown, file: string): tf.io.ModelJSON {
  const bad = (why: string): never => {
    throw new RingbookError("ERR_BAD_MODEL_JSON", `${file} is not a tfjs model.json: ${why}`);
  };
  if (!isJsonObject(value)) return bad(`expected an object, got ${quote(value)}`);
  if (!isJsonObject(value.modelTopology)) return bad(`modelTopology must be an object, got ${quote(value.modelTopology)}`);
  const weightsManifest = value.weightsManifest === undefined ? [] : parseWeightsManifest(value.weightsManifest, bad);
  const optionalString = (key: "format" | "generatedBy"): string | undefined => {
    const v = value[key];
    return v === undefined || v === null ? undefined : typeof v === "string" ? v : bad(`${key} must be a string, got ${quote(v)}`);
  };
  const format = optionalString("format");
  const generatedBy = optionalString("generatedBy");
  const convertedBy = value.convertedBy;
  if (convertedBy !== undefined && convertedBy !== null && typeof convertedBy !== "string") bad(`convertedBy must be a string or null, got ${quote(convertedBy)}`);
  const trainingConfig = value.trainingConfig === undefined || value.trainingConfig === null ? undefined : parseTrainingConfig(value.trainingConfig, bad);
  const metadata = value.userDefinedMetadata;
  if (metadata !== undefined && !isJsonObject(metadata)) bad(`userDefinedMetadata must be an object, got ${quote(metadata)}`);
  return {
    modelTopology: value.modelTopology,
    weightsManifest,
    ...(format === undefined ? {} : { format }),
    ...(generatedBy === undefined ? {} : { generatedBy }),
    ...(typeof convertedBy === "string" || convertedBy === null ? { convertedBy } : {}),
    ...(trainingConfig === undefined ? {} : { trainingConfig }),
    ...(isJsonObject(metadata) ? { userDefinedMetadata: metadata as Record<string, {}> } : {}),
  };
}

/** Checks a `weightsManifest` (of a model.json or a variables.json); `bad` throws with the file's name. */
export function parseWeightsManifest(manifest: unknown, bad: (why: string) => never): tf.io.WeightsManifestConfig {
  if (!Array.isArray(manifest)) return bad(`weightsManifest must be a list of { paths, weights }, got ${quote(manifest)}`);
  return manifest.map((group: unknown, g): tf.io.WeightsManifestConfig[number] => {
    if (!isJsonObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      return bad(`weightsManifest[${g}] must be { paths: string[], weights: [...] }, got ${quote(group)}`);
    }
    const paths = group.paths.map((path: unknown) => (typeof path === "string" && isInside(path) ? path : bad(`weightsManifest[${g}].paths has ${quote(path)}: weights files must be relative paths inside the model directory`)));
    const weights = group.weights.map((entry: unknown, w) => parseWeightEntry(entry, `weightsManifest[${g}].weights[${w}]`, bad));
    return { paths, weights };
  });
}

function parseWeightEntry(entry: unknown, where: string, bad: (why: string) => never): tf.io.WeightsManifestEntry {
  if (!isJsonObject(entry)) return bad(`${where} must be { name, shape, dtype }, got ${quote(entry)}`);
  const { name, shape, dtype, group, quantization } = entry;
  if (typeof name !== "string") return bad(`${where}.name must be a string, got ${quote(name)}`);
  if (!Array.isArray(shape) || !shape.every((d: unknown) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)) {
    return bad(`${where} (${name}): shape must be a list of non-negative integers, got ${quote(shape)}`);
  }
  const knownDtype = dtypes.find((d) => d === dtype);
  if (knownDtype === undefined) return bad(`${where} (${name}): dtype ${quote(dtype)} is not one of ${dtypes.join(", ")}`);
  const parsed: tf.io.WeightsManifestEntry = { name, shape, dtype: knownDtype };
  if (group !== undefined) {
    if (group !== "model" && group !== "optimizer") return bad(`${where} (${name}): group must be "model" or "optimizer", got ${quote(group)}`);
    parsed.group = group;
  }
  if (quantization !== undefined) {
    const quantized = isJsonObject(quantization) ? quantizedDtypes.find((d) => d === quantization.dtype) : undefined;
    if (!isJsonObject(quantization) || quantized === undefined) return bad(`${where} (${name}): quantization must be { dtype: ${quantizedDtypes.join(" | ")}, scale?, min? }, got ${quote(quantization)}`);
    parsed.quantization = {
      dtype: quantized,
      ...(typeof quantization.scale === "number" ? { scale: quantization.scale } : {}),
      ...(typeof quantization.min === "number" ? { min: quantization.min } : {}),
    };
  }
  return parsed;
}

function parseTrainingConfig(value: unknown, bad: (why: string) => never): tf.io.TrainingConfig {
  if (!isJsonObject(value) || !isJsonObject(value.optimizer_config)) return bad(`trainingConfig must be an object with an optimizer_config object, got ${quote(value)}`);
  const names = (v: unknown, what: string): string | string[] | Record<string, string> => {
    if (typeof v === "string") return v;
    if (Array.isArray(v) && v.every((s: unknown) => typeof s === "string")) return v;
    if (isJsonObject(v)) return Object.fromEntries(Object.entries(v).map(([key, s]) => [key, typeof s === "string" ? s : bad(`trainingConfig.${what}.${key} must be a name, got ${quote(s)}`)]));
    return bad(`trainingConfig.${what} must be a name, a list of names or a map of names, got ${quote(v)}`);
  };
  // tfjs cannot compile with these: refused here rather than dropped without a word.
  for (const key of ["weighted_metrics", "sample_weight_mode", "loss_weights"]) {
    if (value[key] !== undefined && value[key] !== null) bad(`trainingConfig.${key} is set (${quote(value[key])}), which tfjs cannot load; remove trainingConfig to load the model uncompiled`);
  }
  const loss = names(value.loss, "loss");
  const metrics = value.metrics === undefined || value.metrics === null ? undefined : names(value.metrics, "metrics");
  return {
    optimizer_config: value.optimizer_config,
    loss,
    ...(metrics === undefined ? {} : { metrics: typeof metrics === "string" ? [metrics] : metrics }),
  };
}

/** Bytes the weights take on disk, or undefined when a string weight makes it variable. */
function expectedWeightBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    if (spec.dtype === "string") return undefined;
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.quantization !== undefined ? (spec.quantization.dtype === "uint8" ? 1 : 2) : spec.dtype === "bool" ? 1 : spec.dtype === "complex64" ? 8 : 4;
    total += size * bytes;
  }
  return total;
}

/** True for a relative path that stays inside the directory it is relative to. */
function isInside(path: string): boolean {
  if (path === "" || isAbsolute(path)) return false;
  const normalized = normalize(path);
  return normalized !== ".." && !normalized.startsWith(`..${sep}`);
}

function concatenate(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (!Array.isArray(data)) return new Uint8Array(data);
  return new Uint8Array(Buffer.concat(data.map((buffer) => new Uint8Array(buffer))));
}
