/**
 * Values → Jupyter MIME bundles. Always includes `text/plain` (util.inspect, no colours); objects
 * may supply their own bundle with a `[Symbol.for("ringbook.mimeBundle")]()` method, and Plotly
 * figures (`{ data: [...], layout }`) become `application/vnd.plotly.v1+json` with an HTML fallback.
 */
import { inspect } from "node:util";
import { randomUUID } from "node:crypto";

/** MIME type → data; JSON types carry objects, the rest strings (base64 for binary). */
export type MimeData = Record<string, unknown>;

/** The symbol of the method objects implement to choose how they display. */
export const mimeBundleSymbol: unique symbol = Symbol.for("ringbook.mimeBundle") as never;

/** What `[mimeBundleSymbol]()` may return: a bare bundle, or data with metadata. */
export type CustomMimeBundle = MimeData | { data: MimeData; metadata?: Record<string, unknown> };

/** A Plotly figure as plain JSON. */
export interface PlotlyFigure {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
  frames?: unknown[];
}

/** Where the HTML fallback loads plotly.js from when the page has no `window.Plotly`. */
export const plotlyScriptUrlSymbol = Symbol.for("ringbook.plotlyScriptUrl");
const defaultPlotlyScriptUrl = "https://cdn.plot.ly/plotly-2.35.2.min.js";

/** `util.inspect` as results show it: no colours, a little deeper than the console. */
export function inspectPlain(value: unknown): string {
  return inspect(value, { colors: false, depth: 4, maxArrayLength: 100, breakLength: 100 });
}

/** True for plain objects shaped like a Plotly figure. */
export function isPlotlyFigure(value: unknown): value is PlotlyFigure {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record["data"]) || typeof record["layout"] !== "object" || record["layout"] === null) return false;
  const allowed = new Set(["data", "layout", "config", "frames"]);
  return Object.keys(record).every((key) => allowed.has(key)) && record["data"].every((trace) => typeof trace === "object" && trace !== null);
}

/** A Plotly figure's bundle: the Plotly MIME type, an HTML fallback that draws it, and text. */
export function plotlyBundle(figure: PlotlyFigure): MimeData {
  const id = `ringbook-plot-${randomUUID()}`;
  const json = JSON.stringify({ data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} }).replace(/</g, "\\u003c");
  const configured = (globalThis as Record<symbol, unknown>)[plotlyScriptUrlSymbol];
  const url = typeof configured === "string" ? configured : defaultPlotlyScriptUrl;
  const html =
    `<div id="${id}"></div>\n<script type="text/javascript">(function () {\n` +
    `  var figure = ${json};\n` +
    `  function draw() { window.Plotly.newPlot(${JSON.stringify(id)}, figure.data, figure.layout, figure.config); }\n` +
    `  if (window.Plotly) { draw(); return; }\n` +
    `  var script = document.createElement("script"); script.src = ${JSON.stringify(url)}; script.onload = draw;\n` +
    `  document.head.appendChild(script);\n})();</script>`;
  return {
    "application/vnd.plotly.v1+json": { data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} },
    "text/html": html,
    "text/plain": `Plotly figure with ${figure.data.length} trace(s)`,
  };
}

/** The bundle for any value; `text/plain` is always present. */
export function toMimeBundle(value: unknown): { data: MimeData; metadata: Record<string, unknown> } {
  if (typeof value === "object" && value !== null) {
    const method = (value as Record<symbol, unknown>)[mimeBundleSymbol];
    if (typeof method === "function") {
      const custom: unknown = method.call(value);
      if (typeof custom === "object" && custom !== null) {
        const record = custom as Record<string, unknown>;
        const hasData = typeof record["data"] === "object" && record["data"] !== null && !Array.isArray(record["data"]);
        const data = (hasData ? record["data"] : record) as MimeData;
        const metadata = hasData && typeof record["metadata"] === "object" && record["metadata"] !== null ? (record["metadata"] as Record<string, unknown>) : {};
        return { data: { "text/plain": inspectPlain(value), ...data }, metadata };
      }
    }
    if (isPlotlyFigure(value)) return { data: plotlyBundle(value), metadata: {} };
  }
  return { data: { "text/plain": inspectPlain(value) }, metadata: {} };
}

/** Bytes or base64 text → base64 text. */
export function toBase64(bytes: Uint8Array | string): string {
  return typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
