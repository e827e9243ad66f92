/**
 * The live view of a training run in a notebook: one progress line and one figure (loss raw and
 * smoothed, throughput total and per rank, step-time split), each a single display updated in
 * place at most {@link LiveViewOptions.maxUpdatesPerSecond} times a second, whatever the step rate,
 * with the figure downsampled so the saved notebook stays small however long the run. The host
 * (ringbook's kernel) publishes its display API under `Symbol.for("ringbook.display")`; lib/ only
 * hands it plain figure JSON and text.
 */
import type { TrainingHistory } from "../metrics/training-history.js";
import { progressText } from "../plots/progress-text.js";
import { trainingFigure } from "../plots/training-figure.js";
import type { Figure } from "../plots/figure.js";

/** What the view needs of a display handle (the kernel's display API has these). */
export interface LiveDisplayHandle {
  plotly(figure: Figure, options?: { text?: string }): void;
  bundle(data: Record<string, unknown>, metadata?: Record<string, unknown>): void;
}

/** What the view needs of the host. */
export interface LiveDisplayHost {
  create(): LiveDisplayHandle;
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

export class LiveTrainingView {
  readonly #run: WatchedRun;
  readonly #progress: LiveDisplayHandle;
  readonly #figure: LiveDisplayHandle;
  readonly #minIntervalMs: number;
  readonly #maxPoints: number;
  readonly #title: string;
  readonly #unsubscribe: () => void;
  #lastRenderAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #renders = 0;
  #closed = false;

  constructor(run: WatchedRun, host: LiveDisplayHost, options: LiveViewOptions = {}) {
    this.#run = run;
    this.#minIntervalMs = 1000 / (options.maxUpdatesPerSecond ?? 4);
    this.#maxPoints = options.maxPoints ?? 300;
    this.#title = options.title ?? "training";
    this.#progress = host.create();
    this.#figure = host.create();
    this.#render("starting");
    this.#unsubscribe = run.onStep(() => this.#schedule());
  }

  /** Updates shown so far (each is one progress and one figure update). */
  get renders(): number {
    return this.#renders;
  }

  /** Shows the final state at once and stops updating. Idempotent. */
  finish(state: "done" | "stopped" | "failed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
    this.#render(state);
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const waitMs = Math.max(0, this.#lastRenderAt + this.#minIntervalMs - performance.now());
    // Trailing updates: a burst of steps ends with its last step on screen.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#render("training");
    }, waitMs);
  }

  #render(state: string): void {
    this.#lastRenderAt = performance.now();
    this.#renders++;
    const history = this.#run.history;
    const plan = { epochs: this.#run.schedule.epochs, ...(this.#run.totalSteps === undefined ? {} : { totalSteps: this.#run.totalSteps }) };
    const line = progressText(history, plan, state);
    this.#progress.bundle({ "text/plain": line, "text/html": `<pre class="ringbook-progress" style="margin:0">${escapeHtml(line)}</pre>` });
    if (history.length === 0) return;
    const figure = trainingFigure(history, { maxPoints: this.#maxPoints, title: this.#title });
    this.#figure.plotly(figure, { text: `${line}\n${numbersText(history)}` });
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
