/**
 * A live line plot of any metric stream: points are added as they come (from a loop, a callback or
 * an async iterable such as `run.metrics`) and the figure is one display updated in place, at a
 * bounded rate, downsampled, and sent as deltas to front ends that apply them, like the training
 * view. Without a notebook (a plain Node script) it only collects the points; `figure` has them.
 */
import { downsampleIndices } from "../metrics/downsample.js";
import { RingbookError } from "../errors.js";
import { roundSignificant, type Figure } from "./figure.js";
import type { FigureDelta } from "./figure-stream.js";
import type { LiveDisplayHandle, LiveDisplayHost } from "../notebook-host.js";
import { figureSpacingMs, findDisplayHost, FigureStreamState, maxDeltaPoints, TrailingUpdate } from "./live-display.js";
import { linePlot, type LinePlotOptions } from "./line-plot.js";

/** Options of {@link LivePlot}. */
export interface LivePlotOptions extends LinePlotOptions {
  /**
   * The key of each added point that is its x value (e.g. `"step"`); every other key is a series.
   * Without it, x counts the points added: 0, 1, 2, ...
   */
  x?: string;
  /** @default 4 */
  maxUpdatesPerSecond?: number;
  /** Points per series in the figure. @default 300 */
  maxPoints?: number;
}

interface SeriesPoints {
  x: number[];
  y: number[];
  /** Points the front ends have of this series. */
  sent: number;
}

/**
 * A line plot that grows as points are added and shows itself in the running cell.
 * @example
 * const plot = new LivePlot({ x: "step", yTitle: "loss" });
 * for await (const m of run.metrics) plot.add({ step: m.step, loss: m.loss });
 * plot.finish();
 */
export class LivePlot {
  readonly #options: LivePlotOptions;
  readonly #maxPoints: number;
  readonly #minIntervalMs: number;
  readonly #host: LiveDisplayHost | undefined;
  readonly #stream: FigureStreamState | undefined;
  readonly #series = new Map<string, SeriesPoints>();
  readonly #update = new TrailingUpdate(() => this.#show(true));
  #handle: LiveDisplayHandle | undefined;
  /** Series names when the whole figure was last shown: a new series needs a whole figure. */
  #shownSeries = 0;
  #added = 0;
  #finished = false;

  /** `host`: where to show it; by default the notebook's, when there is one; `null`: nowhere. */
  constructor(options: LivePlotOptions = {}, host: LiveDisplayHost | null = findDisplayHost() ?? null) {
    this.#options = options;
    this.#maxPoints = Math.max(3, options.maxPoints ?? 300);
    this.#minIntervalMs = 1000 / (options.maxUpdatesPerSecond ?? 4);
    this.#host = host ?? undefined;
    this.#stream = host === null ? undefined : new FigureStreamState(host, this.#maxPoints);
  }

  /** Points added so far. */
  get length(): number {
    return this.#added;
  }

  /** Delta updates sent so far (to front ends that apply them). */
  get deltas(): number {
    return this.#stream?.deltas ?? 0;
  }

  /** The whole figure now (downsampled to `maxPoints` per series). */
  get figure(): Figure {
    return linePlot(
      [...this.#series].map(([name, points]) => ({ name, x: points.x, y: points.y })),
      { ...this.#options, maxPoints: this.#maxPoints },
    );
  }

  /**
   * Adds one point: a number per series (a series first seen here starts here; missing ones skip
   * this x), plus the x value under `options.x` when set. Non-finite values are kept as gaps.
   */
  add(point: Readonly<Record<string, number>>): void {
    if (this.#finished) throw new RingbookError("ERR_PLOT_FINISHED", "this live plot is finished; create another one");
    const xKey = this.#options.x;
    let x = this.#added;
    if (xKey !== undefined) {
      const value = point[xKey];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new RingbookError("ERR_BAD_SERIES", `live plot: each point needs a finite number under "${xKey}" (its x), got ${JSON.stringify(value)}`);
      }
      x = value;
    }
    for (const [name, value] of Object.entries(point)) {
      if (name === xKey) continue;
      if (typeof value !== "number") throw new RingbookError("ERR_BAD_SERIES", `live plot: "${name}" must be a number, got ${typeof value}`);
      let series = this.#series.get(name);
      if (series === undefined) this.#series.set(name, (series = { x: [], y: [], sent: 0 }));
      series.x.push(x);
      series.y.push(value);
    }
    this.#added++;
    if (this.#host !== undefined) this.#update.request();
  }

  /** Adds every item of `stream` (through `select`) as it arrives, then finishes. */
  async follow<T>(stream: AsyncIterable<T>, select: (item: T) => Readonly<Record<string, number>>): Promise<this> {
    try {
      for await (const item of stream) this.add(select(item));
    } finally {
      this.finish();
    }
    return this;
  }

  /** Shows the final state at once (with its static image) and stops updating. Idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#update.cancel();
    if (this.#host !== undefined && this.#added > 0) this.#show(false);
  }

  #show(interim: boolean): void {
    const now = performance.now();
    if (interim && this.#sendDelta(now)) {
      this.#update.dueAt = now + figureSpacingMs(this.#minIntervalMs, undefined);
      return;
    }
    const figure = this.figure;
    const pointsPerTrace = Math.max(0, ...figure.data.map((trace) => trace.x.length));
    const stream = this.#stream!.shownWhole(now, pointsPerTrace);
    for (const series of this.#series.values()) series.sent = series.x.length;
    this.#shownSeries = this.#series.size;
    this.#handle ??= this.#host!.create();
    this.#handle.plotly(figure, { text: this.#text(), interim, stream });
    this.#update.dueAt = now + figureSpacingMs(this.#minIntervalMs, performance.now() - now);
  }

  /** New points of every series as a delta, when allowed; false when the whole figure must be shown. */
  #sendDelta(now: number): boolean {
    const stream = this.#stream!;
    if (this.#series.size !== this.#shownSeries || !stream.deltaAllowed(now)) return false;
    const most = maxDeltaPoints(this.#maxPoints);
    const traces: FigureDelta["traces"] = [];
    for (const series of this.#series.values()) {
      const xs = series.x.slice(series.sent);
      const ys = series.y.slice(series.sent);
      const keep = xs.length <= most ? xs.map((_, i) => i) : downsampleIndices(xs, ys, most);
      traces.push({ x: keep.map((i) => roundSignificant(xs[i]!, 7)), y: keep.map((i) => roundSignificant(ys[i]!)) });
    }
    if (!stream.deltaAllowed(now, Math.max(0, ...traces.map((trace) => trace.x.length)))) return false;
    if (traces.every((trace) => trace.x.length === 0)) return true;
    stream.sendDelta(traces);
    for (const series of this.#series.values()) series.sent = series.x.length;
    return true;
  }

  /** The last value of each series, for viewers that show only text. */
  #text(): string {
    const last = [...this.#series].map(([name, series]) => `${name} ${Number.isFinite(series.y.at(-1)) ? Number(series.y.at(-1)!.toPrecision(4)) : "-"}`);
    return `${this.#added} points; last: ${last.join(", ")}`;
  }
}

/**
 * Plots `stream` live in the running cell: each item becomes a point through `select`; resolves
 * with the finished plot when the stream ends.
 * @example
 * await plotStream(run.metrics, (m) => ({ step: m.step, loss: m.loss }), { x: "step", yTitle: "loss" });
 */
export function plotStream<T>(stream: AsyncIterable<T>, select: (item: T) => Readonly<Record<string, number>>, options: LivePlotOptions = {}): Promise<LivePlot> {
  return new LivePlot(options).follow(stream, select);
}
