/**
 * A data-parallel training run as the notebook sees it: awaitable for its result, with a stream
 * of per-step metrics (joined across ranks), a history for plots, and `stop()`, which asks every
 * rank to stop after the step they agree on so the model is left consistent.
 */
import { AsyncQueue, type QueueOverflow } from "../async-queue.js";
import { RingbookError } from "../errors.js";
import { StepAggregator, type StepSummary } from "../metrics/step-summary.js";
import { TrainingHistory } from "../metrics/training-history.js";
import type { TrainingSchedule } from "../training/rank-loop.js";
import type { WorkerTrainEvent, WorkerTrainResult } from "../training/worker-train.js";
import type { TrainCallbacks } from "../training/callback-options.js";
import type { EarlyStoppingOutcome } from "../training/early-stopping.js";
import type { EpochRecord } from "../training/epoch-record.js";
import type { ValidationRecord } from "../training/validation.js";
import { CallbackRunner } from "../training/callback-runner.js";

/** What `await run` gives. */
export interface TrainResult {
  /** True when the run was stopped (run.stop() or an interrupt) before its schedule ended. */
  stopped: boolean;
  /** Global step reached (counts across resumed runs). */
  steps: number;
  /** Where a resumed run would continue. */
  position: { epoch: number; stepInEpoch: number; globalStep: number };
  /** Loss of the last step. */
  finalLoss: number;
  /** Wall time from the first step's start to the last step's end. */
  durationMs: number;
  /** Samples per second over the run's wall time. */
  samplesPerSecond: number;
  parameterCount: number;
  /** The tfjs backend the workers trained on. */
  backend: string;
  history: TrainingHistory;
  /** Every epoch's end (its mean loss, training metrics, and `val_` logs when it validated), in order. */
  epochs: EpochRecord[];
  /** Every validation pass (`val_loss`, `val_<metric>`), in order; empty without `validationData`. */
  validations: ValidationRecord[];
  /** Where early stopping ended training (`stoppedEpoch` null when it did not), when it was on. */
  earlyStopping?: EarlyStoppingOutcome;
}

/** Something that wants every epoch's end record (callbacks, plots). */
export type EpochListener = (record: EpochRecord) => void;

/**
 * Limit on summaries buffered for a `run.metrics` reader that reads slower than steps arrive: past
 * it the oldest are dropped (the history keeps them all), and the first drop is reported.
 */
const maxBufferedSummaries = 100_000;

/** Something that wants every step summary (the live plot, `run.metrics` readers). */
export type StepListener = (summary: StepSummary, history: TrainingHistory) => void;

export class TrainRun implements PromiseLike<TrainResult> {
  readonly history: TrainingHistory;
  readonly schedule: TrainingSchedule;
  #totalSteps: number | undefined;
  readonly #aggregator: StepAggregator;
  readonly #subscribers = new Set<AsyncQueue<StepSummary>>();
  readonly #listeners = new Set<StepListener>();
  readonly #result: Promise<TrainResult>;
  #stop: (() => void) | undefined;
  #stopRequested = false;
  #backend = "";
  #finished = false;
  /** Epoch ends received, in order; those not yet released wait for their last step's summary. */
  readonly #epochs: EpochRecord[] = [];
  #epochsReleased = 0;
  #lastSummaryStep = 0;
  readonly #epochListeners = new Set<EpochListener>();
  readonly #validations: ValidationRecord[] = [];
  readonly #validationListeners = new Set<(record: ValidationRecord) => void>();
  readonly #callbacks: CallbackRunner | undefined;

  /**
   * @param drive starts the run; it reports events through the callback and resolves with each
   * rank's result (or rejects with the cluster's error).
   */
  constructor(
    worldSize: number,
    schedule: TrainingSchedule,
    drive: (onEvent: (event: WorkerTrainEvent) => void, onStart: (stop: () => void) => void) => Promise<WorkerTrainResult[]>,
    options: { callbacks?: readonly TrainCallbacks[] } = {},
  ) {
    this.history = new TrainingHistory(worldSize);
    this.schedule = schedule;
    this.#aggregator = new StepAggregator(worldSize);
    this.#callbacks = options.callbacks === undefined || options.callbacks.length === 0 ? undefined : this.#attachCallbacks(options.callbacks);
    this.#result = drive(
      (event) => this.#onEvent(event),
      (stop) => {
        this.#stop = stop;
        if (this.#stopRequested) stop();
      },
    )
      .then((ranks) => this.#finish(ranks))
      .then((result) => this.#endCallbacks(result))
      .finally(() => this.#endSubscribers());
    // The caller may never await the run (a cell that only watches the plot); its failure is
    // still reported through the promise returned by then(), so this one must not be unhandled.
    this.#result.catch(() => undefined);
  }

  /** Asks every rank to stop after the step they agree on. Idempotent. */
  stop(): void {
    this.#stopRequested = true;
    this.#stop?.();
  }

  /** Planned number of steps, known once the workers built the data set (for progress and ETA). */
  get totalSteps(): number | undefined {
    return this.#totalSteps;
  }

  /** True once the run ended (successfully or not). */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Every step summary from now on, until the run ends. A reader more than 100,000 summaries
   * behind loses the oldest, with a warning (`RINGBOOK_METRICS_DROPPED`) at the first one.
   */
  get metrics(): AsyncIterable<StepSummary> {
    return {
      [Symbol.asyncIterator]: () => {
        // Subscribed now, not at the first next(): nothing sent between the two is missed.
        const queue = new AsyncQueue<StepSummary>({ capacity: maxBufferedSummaries, overflow: "drop-oldest", onOverflow: reportDroppedSummaries });
        if (this.#finished) queue.close();
        else this.#subscribers.add(queue);
        return this.#read(queue);
      },
    };
  }

  async *#read(queue: AsyncQueue<StepSummary>): AsyncGenerator<StepSummary, void, undefined> {
    try {
      yield* queue;
    } finally {
      this.#subscribers.delete(queue);
    }
  }

  /** Calls `listener` for every step summary; returns a function that removes it. */
  onStep(listener: StepListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` for every epoch's end (after the summary of the epoch's last step); returns a function that removes it. */
  onEpoch(listener: EpochListener): () => void {
    this.#epochListeners.add(listener);
    return () => this.#epochListeners.delete(listener);
  }

  /** Calls `listener` for every validation pass as it arrives; returns a function that removes it. */
  onValidation(listener: (record: ValidationRecord) => void): () => void {
    this.#validationListeners.add(listener);
    return () => this.#validationListeners.delete(listener);
  }

  /** The validation passes received so far (`val_loss`, `val_<metric>` at a step), in order. */
  get validations(): readonly ValidationRecord[] {
    return [...this.#validations];
  }

  /** The epoch ends received so far (each after its last step's summary), in order. */
  get epochs(): readonly EpochRecord[] {
    return this.#epochs.slice(0, this.#epochsReleased);
  }

  then<A = TrainResult, B = never>(onFulfilled?: ((value: TrainResult) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#result.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<TrainResult | B> {
    return this.#result.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<TrainResult> {
    return this.#result.finally(onFinally);
  }

  /** One rank's event, parsed by the train task kind (see task-kinds). */
  #onEvent(parsed: WorkerTrainEvent): void {
    if (parsed.kind === "validations") {
      this.#validations.push(...parsed.records);
      for (const record of parsed.records) for (const listener of this.#validationListeners) listener(record);
      return;
    }
    if (parsed.kind === "epochs") {
      this.#epochs.push(...parsed.records);
      this.#releaseEpochs();
      return;
    }
    if (parsed.kind === "ready") {
      this.#backend = parsed.backend;
      const { batchSize, epochs, dropRemainder, stepsPerEpoch } = this.schedule;
      // A stream of unknown size: the total is known only with stepsPerEpoch.
      const microBatches =
        parsed.datasetSize === null ? Number.POSITIVE_INFINITY : dropRemainder === true ? Math.floor(parsed.datasetSize / batchSize) : Math.ceil(parsed.datasetSize / batchSize);
      const perEpoch = Math.ceil(microBatches / (this.schedule.accumulationSteps ?? 1));
      const total = Math.min(perEpoch, stepsPerEpoch ?? Number.POSITIVE_INFINITY) * epochs;
      this.#totalSteps = Number.isFinite(total) ? total : undefined;
      return;
    }
    for (const record of parsed.records) {
      const summary = this.#aggregator.add(record);
      if (summary === undefined) continue;
      this.history.add(summary);
      for (const listener of this.#listeners) listener(summary, this.history);
      this.#lastSummaryStep = Math.max(this.#lastSummaryStep, summary.step);
      for (const subscriber of this.#subscribers) subscriber.push(summary);
      this.#releaseEpochs();
    }
  }

  /** Hands on the epoch ends whose last step's summary went out (rank 0's epochs can overtake another rank's steps). */
  #releaseEpochs(upTo = this.#lastSummaryStep): void {
    while (this.#epochsReleased < this.#epochs.length && this.#epochs[this.#epochsReleased]!.step <= upTo) {
      const record = this.#epochs[this.#epochsReleased++]!;
      for (const listener of this.#epochListeners) listener(record);
    }
  }

  #attachCallbacks(callbacks: readonly TrainCallbacks[]): CallbackRunner {
    const runner = new CallbackRunner(callbacks, { stop: () => this.stop() });
    this.onStep((summary) =>
      runner.stepEnd(summary.step, {
        loss: summary.loss,
        epoch: summary.epoch,
        stepInEpoch: summary.stepInEpoch,
        ...(summary.learningRate === undefined ? {} : { learningRate: summary.learningRate }),
        samples: summary.samples,
        samplesPerSecond: summary.samplesPerSecond,
      }),
    );
    this.onEpoch((record) => runner.epochEnd(record));
    return runner;
  }

  /** Runs `onTrainEnd` after every queued callback; a callback's error fails the run. */
  async #endCallbacks(result: TrainResult): Promise<TrainResult> {
    const stoppedEpoch = result.earlyStopping?.stoppedEpoch;
    await this.#callbacks?.trainEnd({
      loss: result.finalLoss,
      steps: result.steps,
      stopped: result.stopped,
      ...(stoppedEpoch === undefined || stoppedEpoch === null ? {} : { earlyStoppedEpoch: stoppedEpoch }),
    });
    return result;
  }

  #finish(ranks: WorkerTrainResult[]): TrainResult {
    const first = ranks[0];
    if (!first) throw new RingbookError("ERR_TRAIN_RESULT", "training ended without a result from any rank");
    this.#releaseEpochs(Number.POSITIVE_INFINITY);
    const c = this.history.columns;
    const n = this.history.length;
    return {
      stopped: ranks.some((rank) => rank.stopped),
      steps: first.position.globalStep,
      position: first.position,
      finalLoss: n > 0 ? c.loss[n - 1]! : Number.NaN,
      durationMs: this.history.wallMsPerStep * n,
      samplesPerSecond: this.history.wallSamplesPerSecond,
      parameterCount: first.parameterCount,
      backend: this.#backend,
      history: this.history,
      epochs: [...this.#epochs],
      validations: [...this.#validations],
      ...(first.earlyStopping === undefined ? {} : { earlyStopping: first.earlyStopping }),
    };
  }

  #endSubscribers(): void {
    this.#finished = true;
    for (const subscriber of this.#subscribers) subscriber.close();
    this.#subscribers.clear();
  }
}

/** The first summary a `run.metrics` reader lost, as a process warning (later drops are only counted). */
function reportDroppedSummaries(overflow: QueueOverflow<StepSummary>): void {
  if (overflow.droppedCount !== 1) return;
  process.emitWarning(
    `a run.metrics reader fell ${overflow.capacity} step summaries behind; the oldest are dropped from now on (step ${overflow.dropped.step} first). The run's history keeps every step; use run.onStep for a reader that must see all`,
    { code: "RINGBOOK_METRICS_DROPPED" },
  );
}
