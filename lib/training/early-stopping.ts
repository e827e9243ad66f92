/**
 * Early stopping as Keras's `EarlyStopping` callback, evaluated on the workers at each epoch's
 * end. Every rank holds the same epoch logs (the mean of global losses), so every rank makes the
 * same decision at the same epoch without a message, and all stop together; with
 * `restoreBestWeights`, every rank keeps a copy of the weights of the best epoch and puts them back
 * when training ends, so the ranks stay identical.
 */
import { RingbookError } from "../errors.js";
import type { EpochLogs } from "./epoch-record.js";
import { suggestName } from "./option-names.js";

/** `cluster.train`'s `earlyStopping` option (Keras's EarlyStopping arguments). */
export interface EarlyStoppingOptions {
  /**
   * The epoch log to watch: `"loss"`, a metric, or with `validationData` `"val_loss"` or
   * `"val_<metric>"`; with several outputs also `"[val_]<output>_loss"` and `"[val_]<output>_<metric>"`.
   * @default "loss"
   */
  monitor?: string;
  /** A change smaller than this is no improvement. @default 0 */
  minDelta?: number;
  /** Epochs without improvement before training stops. @default 0 */
  patience?: number;
  /** Whether lower (`"min"`) or higher (`"max"`) is better; `"auto"`: higher for accuracy-like names. @default "auto" */
  mode?: "auto" | "min" | "max";
  /** Training stops if the monitored value does not improve on this within `patience` epochs. */
  baseline?: number;
  /** When training ends, put back the weights of the best epoch (optimizer state is not restored). @default false */
  restoreBestWeights?: boolean;
  /** Epochs to train before improvement is looked for at all. @default 0 */
  startFromEpoch?: number;
}

/** Parsed {@link EarlyStoppingOptions}: every default filled in, `mode` resolved. */
export interface EarlyStoppingSpec {
  monitor: string;
  minDelta: number;
  patience: number;
  mode: "min" | "max";
  baseline?: number;
  restoreBestWeights: boolean;
  startFromEpoch: number;
}

const optionNames = ["monitor", "minDelta", "patience", "mode", "baseline", "restoreBestWeights", "startFromEpoch"];

/**
 * Checks the `earlyStopping` option.
 * @param logNames the epoch log names this run will have (`loss`, and `val_` names with
 * validation); a per-output name (`val_<output>_<metric>`) is checked on the workers, which know
 * the model's outputs.
 */
export function parseEarlyStopping(value: unknown, logNames: readonly string[]): EarlyStoppingSpec {
  if (value === true) value = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`earlyStopping must be true or { monitor, patience, minDelta, mode, baseline, restoreBestWeights, startFromEpoch }, got ${JSON.stringify(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!optionNames.includes(key)) throw bad(`earlyStopping has no option ${JSON.stringify(key)}${suggestName(key, optionNames)}; it takes ${optionNames.join(", ")}`);
  }
  const monitor = o.monitor ?? "loss";
  if (typeof monitor !== "string") throw bad(`earlyStopping.monitor must be the name of an epoch log, got ${JSON.stringify(monitor)}`);
  // A model with several outputs logs `<output>_<metric>` and `<output>_loss`; the owner does not
  // know the output names (the model is built on the workers), which check such a name.
  if (!isPerOutputName(monitor, logNames)) checkMonitor(monitor, logNames);
  const number = (name: string, fallback: number, integer: boolean): number => {
    const v = o[name] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      throw bad(`earlyStopping.${name} must be ${integer ? "an integer" : "a finite number"} ≥ 0, got ${JSON.stringify(o[name])}`);
    }
    return v;
  };
  const mode = o.mode ?? "auto";
  if (mode !== "auto" && mode !== "min" && mode !== "max") throw bad(`earlyStopping.mode must be "auto", "min" or "max", got ${JSON.stringify(mode)}`);
  const restoreBestWeights = o.restoreBestWeights ?? false;
  if (typeof restoreBestWeights !== "boolean") throw bad(`earlyStopping.restoreBestWeights must be true or false, got ${JSON.stringify(restoreBestWeights)}`);
  if (o.baseline !== undefined && (typeof o.baseline !== "number" || !Number.isFinite(o.baseline))) {
    throw bad(`earlyStopping.baseline must be a finite number, got ${JSON.stringify(o.baseline)}`);
  }
  return {
    monitor,
    minDelta: number("minDelta", 0, false),
    patience: number("patience", 0, true),
    // Keras: "auto" is max for accuracy and AUC, min otherwise.
    mode: mode === "auto" ? (/acc|auc/.test(monitor) ? "max" : "min") : mode,
    ...(o.baseline === undefined ? {} : { baseline: o.baseline as number }),
    restoreBestWeights,
    startFromEpoch: number("startFromEpoch", 0, true),
  };
}

/**
 * Refuses a `monitor` that is not among `logNames`, with the closest name (or why `val_` logs are
 * missing) and the list.
 */
export function checkMonitor(monitor: string, logNames: readonly string[]): void {
  if (logNames.includes(monitor)) return;
  const validation =
    monitor.startsWith("val_") && !logNames.some((name) => name.startsWith("val_"))
      ? "; val_ logs need validationData, evaluated at epoch ends (validationEvery with epochs, the default)"
      : suggestName(monitor, logNames);
  throw bad(`earlyStopping.monitor ${JSON.stringify(monitor)} is not a log of this run${validation}; it has ${logNames.join(", ")}`);
}

/** True when `monitor` may be `[val_]<output>_<log>` for a log of the run (`loss` or a metric). */
function isPerOutputName(monitor: string, logNames: readonly string[]): boolean {
  // `val_...` is a validation log: without validation at epoch ends, checkMonitor says what is missing.
  if (monitor.startsWith("val_") && !logNames.includes("val_loss")) return false;
  const base = monitor.startsWith("val_") ? monitor.slice("val_".length) : monitor;
  return logNames.some((name) => !name.startsWith("val_") && base.length > name.length + 1 && base.endsWith(`_${name}`));
}

/** Where early stopping ended: for `await run` and the workers' results. */
export interface EarlyStoppingOutcome {
  /** The epoch (from 0) at whose end training stopped, or null when it ran to the end of its schedule. */
  stoppedEpoch: number | null;
  /** The epoch with the best monitored value, and that value (null/NaN before any epoch counted). */
  bestEpoch: number | null;
  best: number;
  /** Whether the best epoch's weights were put back. */
  restoredBestWeights: boolean;
}

/** The weights early stopping copies and restores (the gradient exchange's flat layout). */
export interface WeightStore {
  readWeights(): Float32Array;
  writeWeights(flat: Float32Array): void;
}

/** Keras's EarlyStopping state machine, step for step. */
export class EarlyStopping {
  readonly #spec: EarlyStoppingSpec;
  readonly #weights: WeightStore;
  #wait = 0;
  #best: number;
  #bestEpoch: number | null = null;
  #bestWeights: Float32Array | undefined;
  #stoppedEpoch: number | null = null;
  #restored = false;

  constructor(spec: EarlyStoppingSpec, weights: WeightStore) {
    this.#spec = spec;
    this.#weights = weights;
    this.#best = spec.mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  /** At an epoch's end (after its last step's weights are applied): true to stop training now. */
  onEpochEnd(epoch: number, logs: EpochLogs): boolean {
    const spec = this.#spec;
    const current = logs[spec.monitor];
    if (current === undefined) {
      throw new RingbookError("ERR_EARLY_STOPPING", `earlyStopping monitors ${JSON.stringify(spec.monitor)}, but the logs of epoch ${epoch} have only ${Object.keys(logs).join(", ")}`);
    }
    if (epoch < spec.startFromEpoch) return false;
    if (spec.restoreBestWeights && this.#bestWeights === undefined) {
      // If no epoch improves, the first one counted is the best.
      this.#bestWeights = this.#weights.readWeights();
      this.#bestEpoch = epoch;
    }
    this.#wait += 1;
    if (this.#improves(current, this.#best)) {
      this.#best = current;
      this.#bestEpoch = epoch;
      if (spec.restoreBestWeights) this.#bestWeights = this.#weights.readWeights();
      // Patience restarts only when the baseline is beaten too.
      if (spec.baseline === undefined || this.#improves(current, spec.baseline)) this.#wait = 0;
      return false;
    }
    if (this.#wait >= spec.patience && epoch > 0) {
      this.#stoppedEpoch = epoch;
      return true;
    }
    return false;
  }

  /** When training ends (however it ends, as Keras's on_train_end): puts the best weights back. */
  onTrainEnd(): void {
    if (!this.#spec.restoreBestWeights || this.#bestWeights === undefined) return;
    this.#weights.writeWeights(this.#bestWeights);
    this.#restored = true;
    this.#bestWeights = undefined;
  }

  get outcome(): EarlyStoppingOutcome {
    return { stoppedEpoch: this.#stoppedEpoch, bestEpoch: this.#bestEpoch, best: this.#bestEpoch === null ? Number.NaN : this.#best, restoredBestWeights: this.#restored };
  }

  /** Keras's `_is_improvement`: `current - minDelta < reference` (min) or `current - minDelta > reference` (max), minDelta signed by the mode. */
  #improves(current: number, reference: number): boolean {
    return this.#spec.mode === "min" ? current + this.#spec.minDelta < reference : current - this.#spec.minDelta > reference;
  }
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
