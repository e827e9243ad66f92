/**
 * Runs a training run's `callbacks` strictly in order: in the notebook (the owner) as the step and
 * epoch records of `cluster.train` arrive (see {@link TrainCallbacks} for when that is), and
 * between the steps of `trainSingleProcess`. A callback returning `false` or calling
 * `control.stop()` stops the run; one that throws stops it too, and the run then rejects with a
 * {@link RingbookError} (`ERR_CALLBACK`) whose cause is what it threw. Nothing more is called
 * after a callback threw.
 */
import { RingbookError } from "../errors.js";
import type { CallbackControl, StepLogs, TrainCallbacks, TrainEndLogs } from "./callback-options.js";
import type { EpochRecord } from "./epoch-record.js";

/** See the file's comment. */
export class CallbackRunner {
  readonly #callbacks: readonly TrainCallbacks[];
  readonly #control: CallbackControl;
  #chain: Promise<void> = Promise.resolve();
  #error: RingbookError | undefined;

  constructor(callbacks: readonly TrainCallbacks[], control: CallbackControl) {
    this.#callbacks = callbacks;
    this.#control = control;
  }

  /** Queues `onStepEnd` for a global step (from 1) whose record (from every rank) arrived. */
  stepEnd(step: number, logs: StepLogs): void {
    for (const callbacks of this.#callbacks) {
      const onStepEnd = callbacks.onStepEnd;
      if (onStepEnd !== undefined) this.#enqueue("onStepEnd", `step ${step}`, () => onStepEnd.call(callbacks, step, { ...logs }, this.#control));
    }
  }

  /** Queues `onEpochEnd` for an epoch's end record. */
  epochEnd(record: EpochRecord): void {
    for (const callbacks of this.#callbacks) {
      const onEpochEnd = callbacks.onEpochEnd;
      if (onEpochEnd !== undefined) this.#enqueue("onEpochEnd", `epoch ${record.epoch}`, () => onEpochEnd.call(callbacks, record.epoch, { ...record.logs }, this.#control));
    }
  }

  /**
   * When the run ended: waits for the queued callbacks, then calls `onTrainEnd`. Throws the error
   * of a callback that threw.
   */
  async trainEnd(logs: TrainEndLogs): Promise<void> {
    for (const callbacks of this.#callbacks) {
      const onTrainEnd = callbacks.onTrainEnd;
      if (onTrainEnd !== undefined) this.#enqueue("onTrainEnd", `step ${logs.steps}`, () => onTrainEnd.call(callbacks, { ...logs }));
    }
    await this.settled();
  }

  /** Waits for every queued callback; throws the error of a callback that threw. */
  async settled(): Promise<void> {
    await this.#chain;
    if (this.#error !== undefined) throw this.#error;
  }

  #enqueue(name: string, where: string, call: () => unknown): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#error !== undefined) return;
      try {
        if ((await call()) === false) this.#control.stop();
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        this.#error = new RingbookError("ERR_CALLBACK", `callbacks.${name} threw at ${where}, so the run was stopped: ${reason}`, { cause: error });
        this.#control.stop();
      }
    });
  }
}
