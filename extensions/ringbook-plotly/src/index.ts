/**
 * ringbook-plotly: a JupyterLab 4 MIME renderer for `application/vnd.plotly.v1+json`, drawn with
 * plotly.js-dist. Its rank (0) beats the `text/html` fallback (50) and the static
 * `image/svg+xml` (80) that ringbook's kernel puts in the same bundle.
 */
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import { plotlyMimeType } from "./figure.js";
import { PlotlyRenderer } from "./renderer.js";

export { parsePlotlyFigure, plotlyMimeType, type PlotlyFigure } from "./figure.js";
export { PlotlyRenderer } from "./renderer.js";
export { connectFigureStreams, type FigureStreamConnection } from "./kernel-streams.js";
export { figureStreamTarget, parseFigureDelta, streamTagOf, type FigureDelta, type FigureStreamTag } from "./figure-stream.js";
export { deliverDelta } from "./live-figures.js";

/** Creates {@link PlotlyRenderer}s. Safe: the figure is data, nothing in it runs as code. */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [plotlyMimeType],
  defaultRank: 0,
  createRenderer: (options) => new PlotlyRenderer(options),
};

/** The MIME extension JupyterLab loads (package.json: `jupyterlab.mimeExtension`). */
const extension: IRenderMime.IExtension = {
  id: "ringbook-plotly:renderer",
  description: "Renders Plotly figures and updates live ones in place.",
  rendererFactory,
  rank: 0,
  dataType: "json",
};

export default extension;
