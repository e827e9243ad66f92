/**
 * The live view of a training run in a notebook: one progress line and one figure (loss raw and
 * smoothed, throughput total and per rank, step-time split), each a single display updated in
 * place at most {@link LiveViewOptions.maxUpdatesPerSecond} times a second, whatever the step rate,
 * with the figure downsampled so the saved notebook stays small however long the run. The host
 * (ringbook's kernel) publishes its display API under `Symbol.for("ringbook.display")`; lib/ only
 * hands it plain figure JSON and text.
 */
import { randomUUID } from "node:crypto";
import { downsampleIndices } from "../metrics/downsample.js";
import type { TrainingHistory } from "../metrics/training-history.js";
import { figureDelta, type FigureDelta, type FigureStreamTag } from "../plots/figure-stream.js";
import { progressText } from "../plots/progress-text.js";
import { trainingFigure } from "../plots/training-figure.js";
import type { Figure } from "../plots/figure.js";

/** What the view needs of a display handle (the kernel's display API has these). */
export interface LiveDisplayHandle {
  /**
   * `interim`: a later update replaces this one soon, so what only saved copies need may be left
   * out. `stream`: the figure's identity for {@link LiveDisplayHost.sendFigureDelta}.
   */
  plotly(figure: Figure, options?: { text?: string; interim?: boolean; stream?: FigureStreamTag }): void;
  bundle(data: Record<string, unknown>, metadata?: Record<string, unknown>): void;
}

/** What the view needs of the host. */
export interface LiveDisplayHost {
  create(): LiveDisplayHandle;
  /**
   * How many front ends apply figure deltas (ringbook's JupyterLab extension); absent or 0: none,
   * so every update is a whole figure.
   */
  figureListeners?(): number;
  /** Sends a delta to those front ends. */
  sendFigureDelta?(delta: FigureDelta): void;
}

/** The host's display API, when running in one. */
export function findDisplayHost(): LiveDisplayHost | undefined {
  const host = (globalThis as Record<symbol, unknown>)[Symbol.for("ringbook.display")];
  if ((typeof host === "function" || typeof host === "object") && host !== null && typeof (host as { create?: unknown }).create === "function") {
    return host as LiveDisplayHost;
  }
  return undefined;
}

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
  onStep(listener: () => void): () => void;
}

/**
 * Share of wall time the figure may take to build and hand to the host. A figure update costs a
 * few milliseconds (downsampling, the static SVG, serialization), which at 4 updates a second on a
 * busy machine reaches 1% of a core the workers need; updates are spaced out to stay within this
 * share (never more often than the rate limit), so the plot's cost stays bounded whatever the
 * machine, the run length or the number of ranks (up to one update a second, see
 * {@link maxFigureIntervalMs}). The time measured is wall time: on a machine busy enough to slow
 * an update down, updates come less often. The progress line is cheap and keeps its rate.
 */
const figureTimeShare = 0.004;

/** The figure is updated at least this often while steps arrive, however long an update takes. */
const maxFigureIntervalMs = 1000;

/**
 * While front ends apply deltas, the whole figure is still shown this often: it is what the saved
 * notebook keeps, and what front ends without ringbook's extension (a classic notebook open on the
 * same kernel) draw, so they are at most this far behind.
 */
const wholeFigureIntervalMs = 10_000;

/**
 * A front end's figure grows by each delta; once it would hold more than this many times
 * `maxPoints` per trace, the next update is a whole (downsampled) figure again, so the browser's
 * drawing stays bounded however long the run.
 */
const deltaGrowthFactor = 4;

/** One display's trailing rate limit: {@link request} shows it once {@link dueAt} is reached, never earlier. */
class TrailingUpdate {
  /** Earliest time (performance.now) of the next update; set by whoever shows it. */
  dueAt = Number.NEGATIVE_INFINITY;
  readonly #show: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(show: () => void) {
    this.#show = show;
  }

  /** Asks for an update; one already pending covers it (a burst ends with its last state shown). */
  request(): void {
    if (this.#timer === undefined) this.#arm();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // Node's timers can fire a millisecond early against performance.now() (libuv's clock is
        // cached per loop turn, in whole ms): at 4 updates a second some seconds would hold 5.
        if (performance.now() < this.dueAt) this.#arm();
        else this.#show();
      },
      Math.ceil(Math.max(0, this.dueAt - performance.now())),
    );
  }
}

/**
 * Shows a run's progress line and figure, each as one display updated in place: at most
 * `maxUpdatesPerSecond` times a second (the figure less often when building it would take more
 * than {@link figureTimeShare} of the time), the last update trailing a burst of steps, and the
 * final state at once on {@link finish}.
 * @example
 * const view = new LiveTrainingView(run, findDisplayHost()!, { maxUpdatesPerSecond: 2 });
 * run.then(() => view.finish("done"));
 */
export class LiveTrainingView {
  readonly #run: WatchedRun;
  readonly #host: LiveDisplayHost;
  readonly #progress: LiveDisplayHandle;
  readonly #figure: LiveDisplayHandle;
  readonly #minIntervalMs: number;
  readonly #maxPoints: number;
  readonly #title: string;
  readonly #unsubscribe: () => void;
  readonly #progressUpdate = new TrailingUpdate(() => this.#showProgress("training"));
  readonly #figureUpdate = new TrailingUpdate(() => this.#showFigure(this.#line("training"), true));
  #renders = 0;
  #figureRenders = 0;
  #figureDeltas = 0;
  #figureMs = 0;
  #closed = false;
  /** The whole figure last shown; deltas extend it. */
  #tag: FigureStreamTag = { stream: randomUUID(), revision: 0 };
  #seq = 0;
  #wholeShownAt = Number.NEGATIVE_INFINITY;
  /** History rows the front ends have (shown or sent in deltas), and points per trace they draw. */
  #rowsSent = 0;
  #pointsSent = 0;

  constructor(run: WatchedRun, host: LiveDisplayHost, options: LiveViewOptions = {}) {
    this.#run = run;
    this.#host = host;
    this.#minIntervalMs = 1000 / (options.maxUpdatesPerSecond ?? 4);
    this.#maxPoints = options.maxPoints ?? 300;
    this.#title = options.title ?? "training";
    this.#progress = host.create();
    this.#figure = host.create();
    this.#showProgress("starting");
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
    return { renders: this.#figureRenders, deltas: this.#figureDeltas, totalMs: this.#figureMs };
  }

  /** Shows the final state at once and stops updating. Idempotent. */
  finish(state: "done" | "stopped" | "failed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#progressUpdate.cancel();
    this.#figureUpdate.cancel();
    const line = this.#showProgress(state);
    this.#showFigure(line, false);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#progressUpdate.request();
    this.#figureUpdate.request();
  }

  #line(state: string): string {
    const plan = { epochs: this.#run.schedule.epochs, ...(this.#run.totalSteps === undefined ? {} : { totalSteps: this.#run.totalSteps }) };
    return progressText(this.#run.history, plan, state);
  }

  #showProgress(state: string): string {
    this.#progressUpdate.dueAt = performance.now() + this.#minIntervalMs;
    this.#renders++;
    const line = this.#line(state);
    this.#progress.bundle({ "text/plain": line, "text/html": `<pre class="ringbook-progress" style="margin:0">${escapeHtml(line)}</pre>` });
    return line;
  }

  #showFigure(line: string, interim: boolean): void {
    const history = this.#run.history;
    if (history.length === 0) return;
    const startedAt = performance.now();
    if (!(interim && this.#sendDelta(history, startedAt))) {
      const figure = trainingFigure(history, { maxPoints: this.#maxPoints, title: this.#title });
      this.#tag = { stream: this.#tag.stream, revision: this.#tag.revision + 1 };
      this.#seq = 0;
      this.#wholeShownAt = startedAt;
      this.#rowsSent = history.length;
      this.#pointsSent = figure.data[0]?.x.length ?? 0;
      this.#figure.plotly(figure, { text: `${line}\n${numbersText(history)}`, interim, stream: this.#tag });
    }
    const tookMs = performance.now() - startedAt;
    this.#figureRenders++;
    this.#figureMs += tookMs;
    this.#figureUpdate.dueAt = startedAt + Math.max(this.#minIntervalMs, Math.min(maxFigureIntervalMs, tookMs / figureTimeShare));
  }

  /**
   * Sends the rows the front ends lack as a delta, when some front end applies deltas and the
   * whole figure is not due; false when it must be shown whole. A delta holds at most a quarter
   * of `maxPoints` per trace (downsampled like the whole figure when more rows arrived).
   */
  #sendDelta(history: TrainingHistory, now: number): boolean {
    const send = this.#host.sendFigureDelta;
    if (send === undefined || (this.#host.figureListeners?.() ?? 0) === 0) return false;
    if (this.#tag.revision === 0 || now - this.#wholeShownAt >= wholeFigureIntervalMs) return false;
    const from = this.#rowsSent;
    const to = history.length;
    if (to === from) return true;
    const c = history.columns;
    const maxDeltaPoints = Math.max(3, Math.floor(this.#maxPoints / 4));
    const rows = to - from <= maxDeltaPoints
      ? Array.from({ length: to - from }, (_, i) => from + i)
      : downsampleIndices(c.step.slice(from, to), c.loss.slice(from, to), maxDeltaPoints).map((i) => from + i);
    if (this.#pointsSent + rows.length > deltaGrowthFactor * this.#maxPoints) return false;
    const figure = trainingFigure(history, { rows, title: this.#title });
    send.call(this.#host, figureDelta(this.#tag, ++this.#seq, figure));
    this.#rowsSent = to;
    this.#pointsSent += rows.length;
    this.#figureDeltas++;
    return true;
  }
}

/** The last step's numbers, for viewers that show only text. */
function numbersText(history: TrainingHistory): string {
  const c = history.columns;
  const i = history.length - 1;
  const at = (column: readonly number[]): string => (Number.isFinite(column[i]) ? Number(column[i]!.toPrecision(4)).toString() : "-");
  return `step ${c.step[i]}: loss ${at(c.loss)}, ${at(c.samplesPerSecond)} samples/s; ms per step: data ${at(c.dataMs)}, compute ${at(c.computeMs)}, communication ${at(c.communicationMs)}, apply ${at(c.applyMs)}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (char) => `&#${char.charCodeAt(0)};`);
}
