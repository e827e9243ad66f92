/**
 * The live view of a training run in a notebook: one progress line and one figure (loss raw and
 * smoothed, throughput total and per rank, step-time split), each a single display updated in
 * place at most {@link LiveViewOptions.maxUpdatesPerSecond} times a second, whatever the step rate,
 * with the figure downsampled so the saved notebook stays small however long the run. It reaches the
 * notebook through its host (lib/notebook-host.ts), handing it only plain figure JSON and text.
 */
import { downsampleIndices } from "../metrics/downsample.js";
import type { TrainingHistory } from "../metrics/training-history.js";
import { deltaTraces } from "../plots/figure-stream.js";
import type { LiveDisplayHandle, LiveDisplayHost } from "../notebook-host.js";
import { figureSpacingMs, FigureStreamState, maxDeltaPoints, TrailingUpdate } from "../plots/live-display.js";
import { progressText } from "../plots/progress-text.js";
import { trainingFigure, type EvaluationSeries } from "../plots/training-figure.js";

/** Options of {@link LiveTrainingView}. */
export interface LiveViewOptions {
  /** @default 4 */
  maxUpdatesPerSecond?: number;
  /** Points per series in the figure. @default 300 */
  maxPoints?: number;
  title?: string;
}

/** What the view watches: a TrainRun has all of it. */
export interface WatchedRun {
  readonly history: TrainingHistory;
  readonly totalSteps: number | undefined;
  readonly schedule: { epochs: number };
  /** Validation passes and epoch ends so far (drawn as val_loss and accuracy curves), when the run has them. */
  readonly validations?: EvaluationSeries["validations"];
  readonly epochs?: EvaluationSeries["epochs"];
  onStep(listener: () => void): () => void;
}


/**
 * Shows a run's progress line and figure, each as one display updated in place: at most
 * `maxUpdatesPerSecond` times a second (the figure less often when building it would take more
 * than a small share of the time, see {@link figureSpacingMs}), the last update trailing a burst of steps, and the
 * final state at once on {@link finish}.
 * @example
 * const view = new LiveTrainingView(run, findDisplayHost()!, { maxUpdatesPerSecond: 2 });
 * run.then(() => view.finish("done"));
 */
export class LiveTrainingView {
  readonly #run: WatchedRun;
  readonly #progress: LiveDisplayHandle;
  readonly #figure: LiveDisplayHandle;
  readonly #minIntervalMs: number;
  readonly #maxPoints: number;
  readonly #title: string;
  readonly #unsubscribe: () => void;
  readonly #progressUpdate = new TrailingUpdate(() => this.#showProgress("training"));
  readonly #figureUpdate = new TrailingUpdate(() => this.#showFigure(this.#line("training"), true));
  #renders = 0;
  readonly #stream: FigureStreamState;
  #figureRenders = 0;
  #figureMs = 0;
  #closed = false;
  /** History rows the front ends have (shown whole or sent in deltas). */
  #rowsSent = 0;
  /** Validation and epoch records in the figure the front ends have: a new one shows it whole. */
  #evaluationSent = 0;

  constructor(run: WatchedRun, host: LiveDisplayHost, options: LiveViewOptions = {}) {
    this.#run = run;
    this.#minIntervalMs = 1000 / (options.maxUpdatesPerSecond ?? 4);
    this.#maxPoints = options.maxPoints ?? 300;
    this.#stream = new FigureStreamState(host, this.#maxPoints);
    this.#title = options.title ?? "training";
    this.#progress = host.create();
    this.#figure = host.create();
    // Both displays are shown now, while the cell that started the run still runs: a front end
    // that follows a cell only until its idle (nbclient, the classic notebook) has them too, and
    // every later update finds them by display id, also when the run is awaited in a later cell.
    // The empty figure is whole (with its static image): it is what is saved if nothing follows.
    this.#showFigure(this.#showProgress("starting"), false);
    this.#unsubscribe = run.onStep(() => this.#schedule());
  }

  /** Progress line updates shown so far. */
  get renders(): number {
    return this.#renders;
  }

  /**
   * Figure updates so far (`renders`, of which `deltas` were sent as deltas), and the milliseconds
   * spent building and handing them over.
   */
  get figureStats(): { renders: number; deltas: number; totalMs: number } {
    return { renders: this.#figureRenders, deltas: this.#stream.deltas, totalMs: this.#figureMs };
  }

  /**
   * Shows the final state at once (the progress line, and the whole figure with its static image)
   * and stops updating. `reason`: why a run failed, shown after `failed:`. Idempotent.
   */
  finish(state: "done" | "stopped" | "failed", reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#progressUpdate.cancel();
    this.#figureUpdate.cancel();
    const line = this.#showProgress(state, reason);
    this.#showFigure(line, false);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#progressUpdate.request();
    this.#figureUpdate.request();
  }

  #evaluation(): EvaluationSeries {
    return { validations: this.#run.validations ?? [], epochs: this.#run.epochs ?? [] };
  }

  #line(state: string, detail?: string): string {
    const plan = { epochs: this.#run.schedule.epochs, ...(this.#run.totalSteps === undefined ? {} : { totalSteps: this.#run.totalSteps }) };
    return progressText(this.#run.history, plan, state, detail);
  }

  #showProgress(state: string, detail?: string): string {
    this.#progressUpdate.dueAt = performance.now() + this.#minIntervalMs;
    this.#renders++;
    const line = this.#line(state, detail);
    this.#progress.bundle({ "text/plain": line, "text/html": `<pre class="ringbook-progress" style="margin:0">${escapeHtml(line)}</pre>` });
    return line;
  }

  #showFigure(line: string, interim: boolean): void {
    const history = this.#run.history;
    const startedAt = performance.now();
    const delta = interim && this.#sendDelta(history, startedAt);
    if (!delta) {
      const evaluation = this.#evaluation();
      const figure = trainingFigure(history, { maxPoints: this.#maxPoints, title: this.#title, evaluation });
      this.#evaluationSent = drawnEvaluations(evaluation);
      const stream = this.#stream.shownWhole(startedAt, figure.data[0]?.x.length ?? 0);
      this.#rowsSent = history.length;
      this.#figure.plotly(figure, { text: `${line}\n${numbersText(history)}`, interim, stream });
    }
    const tookMs = performance.now() - startedAt;
    this.#figureRenders++;
    this.#figureMs += tookMs;
    this.#figureUpdate.dueAt = startedAt + figureSpacingMs(this.#minIntervalMs, delta ? undefined : tookMs);
  }

  /**
   * Sends the rows the front ends lack as a delta, when some front end applies deltas and the
   * whole figure is not due; false when it must be shown whole. A delta holds at most a quarter
   * of `maxPoints` per trace (downsampled like the whole figure when more rows arrived).
   */
  #sendDelta(history: TrainingHistory, now: number): boolean {
    if (!this.#stream.deltaAllowed(now)) return false;
    // Validation passes are few: a new one is drawn in a whole figure.
    const evaluation = this.#evaluation();
    if (drawnEvaluations(evaluation) !== this.#evaluationSent) return false;
    const from = this.#rowsSent;
    const to = history.length;
    if (to === from) return true;
    const c = history.columns;
    const most = maxDeltaPoints(this.#maxPoints);
    const rows = to - from <= most
      ? Array.from({ length: to - from }, (_, i) => from + i)
      : downsampleIndices(c.step.slice(from, to), c.loss.slice(from, to), most).map((i) => from + i);
    if (!this.#stream.deltaAllowed(now, rows.length)) return false;
    this.#stream.sendDelta(deltaTraces(trainingFigure(history, { rows, title: this.#title, evaluation })));
    this.#rowsSent = to;
    return true;
  }
}

/**
 * Validation passes and epoch records the figure draws: every validation pass, and epoch records
 * only with an accuracy (an epoch's mean loss alone is not drawn, so epochs without metrics keep
 * the deltas going; a whole figure every epoch made 6 whole updates of a 12 s run).
 */
function drawnEvaluations(evaluation: EvaluationSeries): number {
  return evaluation.validations.length + evaluation.epochs.filter((record) => "accuracy" in record.logs).length;
}

/** The last step's numbers, for viewers that show only text. */
function numbersText(history: TrainingHistory): string {
  const c = history.columns;
  const i = history.length - 1;
  if (i < 0) return "no step yet";
  const at = (column: readonly number[]): string => (Number.isFinite(column[i]) ? Number(column[i]!.toPrecision(4)).toString() : "-");
  return `step ${c.step[i]}: loss ${at(c.loss)}, ${at(c.samplesPerSecond)} samples/s; ms per step: data ${at(c.dataMs)}, compute ${at(c.computeMs)}, communication ${at(c.communicationMs)}, apply ${at(c.applyMs)}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (char) => `&#${char.charCodeAt(0)};`);
}
