import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import type { Message } from "@lumino/messaging";
import { Widget } from "@lumino/widgets";
import type { PlotlyApi } from "plotly.js-dist";
import { parsePlotlyFigure, type PlotlyFigure } from "./figure.js";
import { streamTagOf, type FigureDelta, type FigureStreamTag } from "./figure-stream.js";
import { followStream, keptDeltas, type LiveFigure } from "./live-figures.js";

let plotly: Promise<PlotlyApi> | undefined;

/** Bounds of the gap between two draws of a live figure's deltas (see #scheduleDeltaDraw). */
const minDeltaGapMs = 250;
const maxDeltaGapMs = 1000;

/** plotly.js (3.5 MB minified) is fetched with the first plot, not when JupyterLab starts. */
function loadPlotly(): Promise<PlotlyApi> {
  plotly ??= import("plotly.js-dist").then((module) => module.default);
  return plotly;
}

/**
 * Draws a Plotly figure and keeps drawing into the same element: JupyterLab calls `renderModel`
 * again on this renderer for `update_display_data`, and `Plotly.react` diffs the new figure
 * against the drawn one, so a live plot updates in place without flicker. A live figure from
 * ringbook's kernel (a stream tag in the output's metadata) also grows by the deltas of its
 * stream: each appends points to the traces of the revision drawn, in order; one that does not
 * follow (a missed delta, an older revision) is ignored until the kernel shows the whole figure
 * again. Draws never overlap: figures that arrive while one is being drawn are coalesced into the
 * newest, and deltas are drawn at a bounded rate.
 */
export class PlotlyRenderer extends Widget implements IRenderMime.IRenderer, LiveFigure {
  readonly #mimeType: string;
  readonly #resizeObserver: ResizeObserver;
  /** The figure as it should look: the last whole one plus the deltas applied since. */
  #figure: PlotlyFigure | undefined;
  #pending: PlotlyFigure | undefined;
  #tag: FigureStreamTag | undefined;
  #seq = 0;
  #unfollow: (() => void) | undefined;
  #queue: Promise<void> = Promise.resolve();
  #drawnWidthPx = 0;
  #resizeFrame = 0;
  /** A draw of the deltas applied since the last draw, waiting for its turn (see #scheduleDeltaDraw). */
  #deltaTimer: ReturnType<typeof setTimeout> | undefined;
  #lastDrawEndMs = 0;
  #lastDrawMs = 0;

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.#mimeType = options.mimeType;
    this.addClass("ringbook-plotly");
    this.#resizeObserver = new ResizeObserver(() => this.#scheduleResize());
    this.#resizeObserver.observe(this.node);
  }

  /** Draws `model`'s figure; resolves once it (or a newer one) is on screen. */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    let figure: PlotlyFigure;
    try {
      figure = parsePlotlyFigure(model.data[this.#mimeType]);
    } catch (error) {
      return Promise.reject(error);
    }
    const tag = streamTagOf(model.metadata[this.#mimeType]);
    if (tag?.stream !== this.#tag?.stream) {
      this.#unfollow?.();
      this.#unfollow = tag === undefined ? undefined : followStream(tag.stream, this);
    }
    this.#tag = tag;
    this.#seq = 0;
    this.#figure = figure;
    // This revision's deltas that arrived before it was drawn here (see live-figures.ts), in order.
    if (tag !== undefined) for (const delta of keptDeltas(tag.stream, tag.revision)) this.#appendDelta(delta);
    return this.#draw(this.#figure);
  }

  /** Appends `delta`'s points when it is the next delta of the revision drawn. */
  applyDelta(delta: FigureDelta): void {
    if (this.#appendDelta(delta)) this.#scheduleDeltaDraw();
  }

  /** Appends `delta`'s points to the figure to draw when it is the next delta of its revision; false when not. */
  #appendDelta(delta: FigureDelta): boolean {
    const figure = this.#figure;
    const tag = this.#tag;
    if (this.isDisposed || figure === undefined || tag === undefined) return false;
    if (delta.stream !== tag.stream || delta.revision !== tag.revision || delta.seq !== this.#seq + 1) return false;
    if (delta.traces.length !== figure.data.length) {
      console.warn(`ringbook-plotly: a delta for ${delta.traces.length} traces does not fit a figure of ${figure.data.length}; waiting for the whole figure`);
      return false;
    }
    this.#seq = delta.seq;
    // New arrays (never mutated in place) and a new datarevision: Plotly.react redraws the traces.
    const data = figure.data.map((trace, index) => {
      const { x, y } = delta.traces[index]!;
      const drawn = trace as { x?: unknown; y?: unknown };
      return { ...drawn, x: [...asArray(drawn.x), ...x], y: [...asArray(drawn.y), ...y] };
    });
    const revision = typeof figure.layout["datarevision"] === "number" ? figure.layout["datarevision"] : 0;
    this.#figure = { data, layout: { ...figure.layout, datarevision: revision + 1 }, config: figure.config };
    return true;
  }

  /**
   * Draws the deltas applied so far, no sooner than a gap after the last draw: four times as long
   * as the last draw took, so that a live plot takes at most a fifth of the page's time, but at
   * least 250 ms and at most 1 s. Drawn at every delta (about ten a second), a plot of a few
   * thousand points kept the page too busy to answer clicks (the interrupt button) for seconds on
   * a loaded machine; a second between draws leaves it free to. Spaced by four times draws that a
   * loaded machine slows to seconds, a plot could stand still for most of a short run (the likely
   * cause of a CI run in which a 10 s training cell's plot drew none of the 30 deltas that reached
   * it before the run ended).
   */
  #scheduleDeltaDraw(): void {
    if (this.#deltaTimer !== undefined) return;
    const gapMs = Math.min(maxDeltaGapMs, Math.max(minDeltaGapMs, 4 * this.#lastDrawMs));
    const waitMs = Math.max(0, this.#lastDrawEndMs + gapMs - performance.now());
    this.#deltaTimer = setTimeout(() => {
      this.#deltaTimer = undefined;
      const figure = this.#figure;
      if (figure === undefined || this.isDisposed) return;
      void this.#draw(figure).catch((error: unknown) => console.warn("ringbook-plotly: could not draw a live figure update:", error));
    }, waitMs);
  }

  /** Draws `figure` after the draw in progress, if it is still the newest by then. */
  #draw(figure: PlotlyFigure): Promise<void> {
    this.#pending = figure;
    const drawn = this.#queue.then(() => this.#drawPending());
    this.#queue = drawn.catch(() => undefined);
    return drawn;
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.#resizeObserver.disconnect();
    this.#unfollow?.();
    this.#unfollow = undefined;
    clearTimeout(this.#deltaTimer);
    cancelAnimationFrame(this.#resizeFrame);
    this.#pending = undefined;
    const node = this.node;
    // After a draw in progress, if any: purging under Plotly.react would leave it half done.
    void this.#queue.then(() => plotly?.then((api) => api.purge(node)));
    super.dispose();
  }

  protected override onAfterShow(message: Message): void {
    super.onAfterShow(message);
    this.#scheduleResize();
  }

  async #drawPending(): Promise<void> {
    const figure = this.#pending;
    if (figure === undefined) return; // drawn already, with a newer figure
    this.#pending = undefined;
    const api = await loadPlotly();
    if (this.isDisposed) return;
    const started = performance.now();
    await api.react(this.node, figure.data, figure.layout, figure.config);
    this.#lastDrawEndMs = performance.now();
    this.#lastDrawMs = this.#lastDrawEndMs - started;
    this.#drawnWidthPx = this.node.clientWidth;
  }

  /** Fits the plot to a new panel width, once per frame; a hidden panel (width 0) waits. */
  #scheduleResize(): void {
    if (this.#resizeFrame !== 0 || this.isDisposed) return;
    this.#resizeFrame = requestAnimationFrame(() => {
      this.#resizeFrame = 0;
      const widthPx = this.node.clientWidth;
      if (this.isDisposed || widthPx === 0 || this.#drawnWidthPx === 0 || widthPx === this.#drawnWidthPx) return;
      this.#drawnWidthPx = widthPx;
      void loadPlotly().then((api) => (this.isDisposed ? undefined : api.Plots.resize(this.node)));
    });
  }
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
