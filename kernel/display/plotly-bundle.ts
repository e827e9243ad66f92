/**
 * A Plotly figure as a MIME bundle that renders everywhere, with no internet access:
 * - `application/vnd.plotly.v1+json` for JupyterLab (ringbook's extension or plotly's) and VS Code;
 * - `text/html`: the static SVG drawing, which a script replaces by the interactive plot once
 *   plotly.js is loaded, from `window.Plotly` or, in the classic notebook, the copy `ringbook
 *   install` puts in the server's nbextensions. The library is loaded once per page (a shared
 *   promise on `window`), however many outputs and updates; without scripts the SVG stays;
 * - `image/svg+xml` for viewers that run no script and pick images (GitHub, nbconvert to PDF),
 *   except in interim updates of a live display: every live front end renders `text/html` (which
 *   holds the same drawing) or the Plotly JSON, and a saved notebook keeps the final update;
 * - `text/plain` with the caller's text (e.g. the numbers) or a short description.
 */
import { randomUUID } from "node:crypto";
import { figureToSvg } from "../../lib/plots/svg.js";
import type { Figure } from "../../lib/plots/figure.js";
import type { FigureStreamTag } from "../../lib/plots/figure-stream.js";

/**
 * A Plotly figure as plain JSON. `layout` and `config` are any objects (not index-signature
 * records) so that typed figures, such as ringbook's `linePlot` and `trainingFigure`, type-check
 * when passed to `display.plotly`.
 */
export interface PlotlyFigure {
  data: readonly unknown[];
  layout?: object;
  config?: object;
  frames?: readonly unknown[];
}

/** Where `text/html` loads plotly.js from before trying the nbextension copy (set on `globalThis`). */
export const plotlyScriptUrlSymbol = Symbol.for("ringbook.plotlyScriptUrl");

/** Path of plotly.js under the classic notebook server's base URL (written by `ringbook install`). */
export const nbextensionPlotlyPath = "nbextensions/ringbook/plotly.min.js";

/** Options of {@link plotlyBundle}. */
export interface PlotlyBundleOptions {
  /** The `text/plain` alternative. @default "Plotly figure with N trace(s)" */
  text?: string;
  /**
   * An update that a later one replaces soon (a live plot): leaves out `image/svg+xml`, which only
   * viewers of saved notebooks use, to send a quarter fewer bytes. @default false
   */
  interim?: boolean;
  /**
   * A live figure's identity: put in the output's metadata, so that front ends with ringbook's
   * JupyterLab extension can append the deltas the kernel sends over its comm.
   */
  stream?: FigureStreamTag;
}

/** The output metadata of a Plotly bundle: where a live figure says which stream it belongs to. */
export function plotlyMetadata(options: PlotlyBundleOptions = {}): Record<string, unknown> {
  if (options.stream === undefined) return {};
  const { stream, revision } = options.stream;
  return { "application/vnd.plotly.v1+json": { ringbook: { stream, revision } } };
}

/** The static drawing, when the figure uses only what figureToSvg draws (lines, areas, bars). */
function staticSvg(figure: PlotlyFigure): string | undefined {
  const drawable = figure.data.every((trace) => {
    const type = (trace as { type?: unknown }).type;
    return type === "scatter" || type === "bar";
  });
  if (!drawable || figure.data.length === 0) return undefined;
  try {
    return figureToSvg({ data: figure.data, layout: figure.layout ?? {} } as unknown as Figure);
  } catch {
    return undefined;
  }
}

function loaderScript(id: string, figureJson: string): string {
  const configured: unknown = Reflect.get(globalThis, plotlyScriptUrlSymbol);
  const first = typeof configured === "string" ? JSON.stringify(configured) : "null";
  // ES5 on purpose: the classic notebook runs this as is.
  return `<script type="text/javascript">(function () {
  var figure = ${figureJson};
  var el = document.getElementById(${JSON.stringify(id)});
  if (!el) return;
  function draw(Plotly) { el.innerHTML = ""; Plotly.react(el, figure.data, figure.layout, figure.config); }
  if (window.Plotly) { draw(window.Plotly); return; }
  if (!window.__ringbookPlotly) {
    var base = (document.body && document.body.getAttribute("data-base-url")) || "/";
    var urls = [${first}, base + ${JSON.stringify(nbextensionPlotlyPath)}].filter(function (url) { return !!url; });
    window.__ringbookPlotly = new Promise(function (resolve, reject) {
      function attempt(i) {
        if (i >= urls.length) { reject(new Error("plotly.js not found")); return; }
        var script = document.createElement("script");
        script.src = urls[i];
        script.onload = function () { window.Plotly ? resolve(window.Plotly) : attempt(i + 1); };
        script.onerror = function () { attempt(i + 1); };
        document.head.appendChild(script);
      }
      attempt(0);
    });
  }
  window.__ringbookPlotly.then(draw, function () { /* no plotly.js here: the static drawing stays */ });
})();</script>`;
}

/** A Plotly figure's bundle (see the module comment). */
export function plotlyBundle(figure: PlotlyFigure, options: PlotlyBundleOptions = {}): Record<string, unknown> {
  const plotly = { data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} };
  const id = `ringbook-plot-${randomUUID()}`;
  const svg = staticSvg(figure);
  const json = JSON.stringify(plotly).replace(/</g, "\\u003c");
  const bundle: Record<string, unknown> = {
    "application/vnd.plotly.v1+json": plotly,
    "text/html": `<div id="${id}" class="ringbook-plot">${svg ?? ""}</div>\n${loaderScript(id, json)}`,
  };
  if (svg !== undefined && options.interim !== true) bundle["image/svg+xml"] = svg;
  bundle["text/plain"] = options.text ?? `Plotly figure with ${figure.data.length} trace(s)`;
  return bundle;
}
