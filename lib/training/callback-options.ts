/**
 * The `callbacks` option of `cluster.train`: functions run in the notebook (the owner), never on
 * the workers, as the records of steps and epochs arrive there. They do not travel: the worker
 * spec has none of them.
 */
import { RingbookError } from "../errors.js";
import type { EpochLogs } from "./epoch-record.js";
import { suggestName } from "./option-names.js";

/** The logs of one step, as `onStepEnd` gets them. */
export interface StepLogs {
  /** Mean loss over the step's global batch. */
  loss: number;
  epoch: number;
  stepInEpoch: number;
  /** Learning rate of the step. */
  learningRate?: number;
  /** Samples of the global batch (all micro-batches with gradient accumulation). */
  samples: number;
  samplesPerSecond: number;
}

/** What `onTrainEnd` gets. */
export interface TrainEndLogs {
  /** Loss of the last step. */
  loss: number;
  /** Global step reached. */
  steps: number;
  /** True when the run was stopped (a callback, run.stop() or an interrupt) before its schedule ended. */
  stopped: boolean;
  /** The epoch early stopping ended training at, when it did. */
  earlyStoppedEpoch?: number;
}

/** What callbacks may do to their run. */
export interface CallbackControl {
  /** Asks every rank to stop after a step they agree on (as `run.stop()`). */
  stop(): void;
}

/**
 * Functions called in the notebook while a run trains (as Keras's callbacks). Records reach the
 * notebook in batches (every `metricsIntervalMs`), so a callback runs when its step's record
 * arrives, not synchronously with the step: the workers have usually gone on a few steps. Calls
 * are strictly in order (an async callback is awaited before the next one is called), `onEpochEnd`
 * after the `onStepEnd` of the epoch's last step, `onTrainEnd` last, before `await run` resolves.
 * Returning `false` (or a promise of `false`) or calling `control.stop()` stops the run at a step
 * every rank agrees on; a callback that throws stops the run, which then rejects with its error.
 * `trainSingleProcess` calls them between its steps instead (the next step waits for an async
 * one) and stops right after the step whose callback asked.
 */
export interface TrainCallbacks {
  /** After each step: its global step number (from 1) and logs. */
  onStepEnd?: (step: number, logs: StepLogs, control: CallbackControl) => unknown;
  /** After each epoch: the epoch (from 0) and its logs (the epoch's sample-weighted mean loss, later `val_` metrics). */
  onEpochEnd?: (epoch: number, logs: EpochLogs, control: CallbackControl) => unknown;
  /** When the run ends (not when it fails). */
  onTrainEnd?: (logs: TrainEndLogs) => unknown;
}

const callbackNames = ["onStepEnd", "onEpochEnd", "onTrainEnd"];

/** Checks the `callbacks` option: an object (or an array of them) of known callbacks, each a function. */
export function parseCallbackOptions(value: unknown): TrainCallbacks[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const where = Array.isArray(value) ? `callbacks[${i}]` : "callbacks";
    if (typeof item !== "object" || item === null) throw bad(`${where} must be an object { onStepEnd, onEpochEnd, onTrainEnd }, got ${JSON.stringify(item) ?? typeof item}`);
    for (const [key, callback] of Object.entries(item)) {
      if (!callbackNames.includes(key)) throw bad(`${where} has no callback ${JSON.stringify(key)}${suggestName(key, callbackNames)}; the callbacks are ${callbackNames.join(", ")}`);
      if (callback !== undefined && typeof callback !== "function") throw bad(`${where}.${key} must be a function, got ${JSON.stringify(callback) ?? typeof callback}`);
    }
    return item as TrainCallbacks;
  });
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
