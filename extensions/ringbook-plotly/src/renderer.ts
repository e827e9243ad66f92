import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import type { Message } from "@lumino/messaging";
import { Widget } from "@lumino/widgets";
import type { PlotlyApi } from "plotly.js-dist";
import { parsePlotlyFigure, type PlotlyFigure } from "./figure.js";

let plotly: Promise<PlotlyApi> | undefined;

/** plotly.js (3.5 MB minified) is fetched with the first plot, not when JupyterLab starts. */
function loadPlotly(): Promise<PlotlyApi> {
  plotly ??= import("plotly.js-dist").then((module) => module.default);
  return plotly;
}

/**
 * Draws a Plotly figure and keeps drawing into the same element: JupyterLab calls `renderModel`
 * again on this renderer for `update_display_data`, and `Plotly.react` diffs the new figure
 * against the drawn one, so a live plot updates in place without flicker. Draws never overlap:
 * figures that arrive while one is being drawn are coalesced into the newest.
 */
export class PlotlyRenderer extends Widget implements IRenderMime.IRenderer {
  readonly #mimeType: string;
  readonly #resizeObserver: ResizeObserver;
  #pending: PlotlyFigure | undefined;
  #queue: Promise<void> = Promise.resolve();
  #drawnWidthPx = 0;
  #resizeFrame = 0;

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
    this.#pending = figure;
    const drawn = this.#queue.then(() => this.#drawPending());
    this.#queue = drawn.catch(() => undefined);
    return drawn;
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.#resizeObserver.disconnect();
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
    await api.react(this.node, figure.data, figure.layout, figure.config);
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
