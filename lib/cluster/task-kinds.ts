/**
 * Every task kind's arguments, events and result, and their parsers: a rank reads the arguments
 * the owner sent, the owner reads the events and results the ranks send. All travel as
 * structured-clone payloads; they arrive as `unknown` and become typed values here, or a
 * `BadPayloadError` that names the rank, the field and what was there.
 */
import type tf from "../tfjs.cjs";
import type { StepRecord } from "../metrics/step-record.js";
import type { EarlyStoppingOutcome } from "../training/early-stopping.js";
import type { EpochLogs, EpochRecord } from "../training/epoch-record.js";
import type { ValidationRecord } from "../training/validation.js";
import type { WorkerEvaluateSpec, WorkerTrainSpec } from "../training/train-spec.js";
import type { ExportedModel, WorkerTrainEvent, WorkerTrainResult } from "../training/worker-train.js";
import type { TaskSpec } from "./messages.js";
import {
  arrayAt,
  BadPayloadError,
  booleanField,
  integerField,
  nullableIntegerField,
  numberField,
  numberRecordAt,
  objectAt,
  oneOf,
  optionalNumberField,
  stepField,
  stringField,
} from "./payload-fields.js";
import { parseWorkerEvaluateSpec, parseWorkerTrainSpec } from "./worker-spec-parser.js";

/** The names of the task kinds. */
export type TaskKindName = TaskSpec["kind"];

/** How a rank reads one task kind's arguments, and the owner its events and results. */
export interface TaskKind<Event, Result, Args = unknown> {
  /** The arguments the owner sent with the task (`undefined` when it sent none), read on each rank. */
  parseArgs: (value: unknown, path: string) => Args;
  /** One event a rank sent while the task ran. */
  parseEvent: (value: unknown, path: string) => Event;
  /** A rank's value at the task's end (`undefined` when it sent none). */
  parseResult: (value: unknown, path: string) => Result;
}

/**
 * What each task kind takes from the owner, sends while it runs (`never`: nothing) and what each
 * rank returns at its end.
 */
export interface TaskKindTypes {
  /** `cluster.run`: the user's function and `args`; its value is whatever it returned. */
  function: { args: unknown; event: never; result: unknown };
  /** `cluster.runCell`: a `%%workers` cell; its value is the cell's last expression. */
  cell: { args: unknown; event: never; result: unknown };
  /** `cluster.train`: the spec; step records, epoch ends and validations while it runs; each rank's end state. */
  train: { args: WorkerTrainSpec; event: WorkerTrainEvent; result: WorkerTrainResult };
  /** `cluster.model()`: the trained model's weights. */
  exportModel: { args: unknown; event: never; result: ExportedModel };
  /** `cluster.evaluate`: the spec; `{ loss, ...metrics }`. */
  evaluate: { args: WorkerEvaluateSpec; event: never; result: Record<string, number> };
}

/** The arguments of task kind `Kind`, as a rank reads them. */
export type TaskArgsOf<Kind extends TaskKindName> = TaskKindTypes[Kind]["args"];

/** The events of task kind `Kind`. */
export type TaskEventOf<Kind extends TaskKindName> = TaskKindTypes[Kind]["event"];
/** A rank's result of task kind `Kind`. */
export type TaskResultOf<Kind extends TaskKindName> = TaskKindTypes[Kind]["result"];

/** Every task kind's parsers, by name. */
export const taskKinds: { readonly [Kind in TaskKindName]: TaskKind<TaskEventOf<Kind>, TaskResultOf<Kind>, TaskArgsOf<Kind>> } = {
  function: { parseArgs: anyValue, parseEvent: noEvents("function"), parseResult: anyValue },
  cell: { parseArgs: anyValue, parseEvent: noEvents("cell"), parseResult: anyValue },
  train: { parseArgs: parseWorkerTrainSpec, parseEvent: parseTrainEvent, parseResult: parseTrainResult },
  exportModel: { parseArgs: anyValue, parseEvent: noEvents("exportModel"), parseResult: parseExportedModel },
  evaluate: { parseArgs: parseWorkerEvaluateSpec, parseEvent: noEvents("evaluate"), parseResult: numberRecordAt },
};

/** A kind that sends no events: any event is a protocol error. */
function noEvents(kind: TaskKindName): (value: unknown, path: string) => never {
  return (value, path) => {
    throw new BadPayloadError(path, `absent (a ${kind} task sends no events)`, value);
  };
}

/** A user's value (or arguments a task kind ignores): structured-clone data, whatever its shape. */
function anyValue(value: unknown): unknown {
  return value;
}

/** A {@link WorkerTrainEvent}. */
export function parseTrainEvent(value: unknown, path: string): WorkerTrainEvent {
  const event = objectAt(value, path);
  const rank = integerField(event, "rank", path);
  const kind = event["kind"];
  switch (kind) {
    case "ready":
      return {
        kind,
        rank,
        parameterCount: integerField(event, "parameterCount", path),
        datasetSize: nullableIntegerField(event, "datasetSize", path),
        backend: stringField(event, "backend", path),
      };
    case "steps":
      return { kind, rank, records: arrayAt(event["records"], `${path}.records`).map((record, i) => parseStepRecord(record, `${path}.records[${i}]`)) };
    case "epochs":
      return { kind, rank, records: arrayAt(event["records"], `${path}.records`).map((record, i) => parseEpochRecord(record, `${path}.records[${i}]`)) };
    case "validations":
      return { kind, rank, records: arrayAt(event["records"], `${path}.records`).map((record, i) => parseValidationRecord(record, `${path}.records[${i}]`)) };
    default:
      throw new BadPayloadError(`${path}.kind`, `"ready", "steps", "epochs" or "validations"`, kind);
  }
}

function parseStepRecord(value: unknown, path: string): StepRecord {
  const record = objectAt(value, path);
  const number = (key: string): number => numberField(record, key, path);
  return {
    rank: integerField(record, "rank", path),
    epoch: integerField(record, "epoch", path),
    step: stepField(record, "step", path),
    stepInEpoch: integerField(record, "stepInEpoch", path),
    stepsInEpoch: number("stepsInEpoch"),
    loss: number("loss"),
    localLoss: number("localLoss"),
    samples: number("samples"),
    globalSamples: number("globalSamples"),
    dataMs: number("dataMs"),
    computeMs: number("computeMs"),
    communicationMs: number("communicationMs"),
    applyMs: number("applyMs"),
    stepMs: number("stepMs"),
    endedAtMs: number("endedAtMs"),
    samplesPerSecond: number("samplesPerSecond"),
    ...optionalNumberField(record, "learningRate", path),
  };
}

function parseEpochRecord(value: unknown, path: string): EpochRecord {
  const record = objectAt(value, path);
  const logs = numberRecordAt(record["logs"], `${path}.logs`);
  const epochLogs: EpochLogs = { ...logs, loss: numberField(logs, "loss", `${path}.logs`) };
  return {
    epoch: integerField(record, "epoch", path),
    step: integerField(record, "step", path),
    steps: integerField(record, "steps", path),
    samples: numberField(record, "samples", path),
    logs: epochLogs,
    endedAtMs: numberField(record, "endedAtMs", path),
  };
}

function parseValidationRecord(value: unknown, path: string): ValidationRecord {
  const record = objectAt(value, path);
  return {
    epoch: integerField(record, "epoch", path),
    step: integerField(record, "step", path),
    logs: numberRecordAt(record["logs"], `${path}.logs`),
    samples: numberField(record, "samples", path),
  };
}

/** A {@link WorkerTrainResult}. */
export function parseTrainResult(value: unknown, path: string): WorkerTrainResult {
  const result = objectAt(value, path);
  const position = objectAt(result["position"], `${path}.position`);
  const earlyStopping = result["earlyStopping"];
  return {
    rank: integerField(result, "rank", path),
    stopped: booleanField(result, "stopped", path),
    position: {
      epoch: integerField(position, "epoch", `${path}.position`),
      stepInEpoch: integerField(position, "stepInEpoch", `${path}.position`),
      globalStep: integerField(position, "globalStep", `${path}.position`),
    },
    parameterCount: integerField(result, "parameterCount", path),
    ...(earlyStopping === undefined ? {} : { earlyStopping: parseEarlyStopping(earlyStopping, `${path}.earlyStopping`) }),
  };
}

function parseEarlyStopping(value: unknown, path: string): EarlyStoppingOutcome {
  const outcome = objectAt(value, path);
  return {
    stoppedEpoch: nullableIntegerField(outcome, "stoppedEpoch", path),
    bestEpoch: nullableIntegerField(outcome, "bestEpoch", path),
    best: numberField(outcome, "best", path),
    restoredBestWeights: booleanField(outcome, "restoredBestWeights", path),
  };
}

const weightDtypes = ["float32", "int32", "bool", "string", "complex64"] as const;
const quantizationDtypes = ["uint16", "uint8", "float16"] as const;
const weightGroups = ["model", "optimizer"] as const;

function parseShape(value: unknown, path: string): number[] {
  return arrayAt(value, path).map((size, i) => {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new BadPayloadError(`${path}[${i}]`, "a dimension (an integer >= 0)", size);
    return size;
  });
}

function parseWeightSpec(value: unknown, path: string): tf.io.WeightsManifestEntry {
  const spec = objectAt(value, path);
  const entry: tf.io.WeightsManifestEntry = {
    name: stringField(spec, "name", path),
    shape: parseShape(spec["shape"], `${path}.shape`),
    dtype: oneOf(spec["dtype"], weightDtypes, `${path}.dtype`),
  };
  if (spec["group"] !== undefined) entry.group = oneOf(spec["group"], weightGroups, `${path}.group`);
  if (spec["quantization"] !== undefined) {
    const quantization = objectAt(spec["quantization"], `${path}.quantization`);
    entry.quantization = {
      dtype: oneOf(quantization["dtype"], quantizationDtypes, `${path}.quantization.dtype`),
      ...optionalNumberField(quantization, "scale", `${path}.quantization`),
      ...optionalNumberField(quantization, "min", `${path}.quantization`),
    };
  }
  return entry;
}

/** An {@link ExportedModel}. */
export function parseExportedModel(value: unknown, path: string): ExportedModel {
  const exported = objectAt(value, path);
  const kind = exported["kind"];
  switch (kind) {
    case "layers": {
      const weightData = exported["weightData"];
      if (!(weightData instanceof ArrayBuffer)) throw new BadPayloadError(`${path}.weightData`, "an ArrayBuffer", weightData);
      return {
        kind,
        modelTopology: objectAt(exported["modelTopology"], `${path}.modelTopology`),
        weightSpecs: arrayAt(exported["weightSpecs"], `${path}.weightSpecs`).map((spec, i) => parseWeightSpec(spec, `${path}.weightSpecs[${i}]`)),
        weightData,
      };
    }
    case "variables":
      return {
        kind,
        variables: arrayAt(exported["variables"], `${path}.variables`).map((entry, i) => {
          const variable = objectAt(entry, `${path}.variables[${i}]`);
          const values = variable["values"];
          if (!(values instanceof Float32Array)) throw new BadPayloadError(`${path}.variables[${i}].values`, "a Float32Array", values);
          return { name: stringField(variable, "name", `${path}.variables[${i}]`), shape: parseShape(variable["shape"], `${path}.variables[${i}].shape`), values };
        }),
      };
    default:
      throw new BadPayloadError(`${path}.kind`, `"layers" or "variables"`, kind);
  }
}

/** The parsers of task kind `name`, typed by it. */
export function taskKindOf<Kind extends TaskKindName>(name: Kind): TaskKind<TaskEventOf<Kind>, TaskResultOf<Kind>, TaskArgsOf<Kind>> {
  return taskKinds[name];
}
