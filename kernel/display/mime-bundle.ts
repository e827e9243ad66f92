/**
 * Values → Jupyter MIME bundles. Always includes `text/plain` (util.inspect, no colours); objects
 * may supply their own bundle with a `[Symbol.for("ringbook.mimeBundle")]()` method, and Plotly
 * figures (`{ data: [...], layout }`) become `application/vnd.plotly.v1+json` with an HTML fallback.
 */
import { inspect } from "node:util";
import { plotlyBundle, type PlotlyFigure } from "./plotly-bundle.js";

export { plotlyBundle, plotlyScriptUrlSymbol, type PlotlyFigure, type PlotlyBundleOptions } from "./plotly-bundle.js";

/** MIME type → data; JSON types carry objects, the rest strings (base64 for binary). */
export type MimeData = Record<string, unknown>;

/** The symbol of the method objects implement to choose how they display. */
export const mimeBundleSymbol: unique symbol = Symbol.for("ringbook.mimeBundle") as never;

/** What `[mimeBundleSymbol]()` may return: a bare bundle, or data with metadata. */
export type CustomMimeBundle = MimeData | { data: MimeData; metadata?: Record<string, unknown> };

/** `util.inspect` as results show it: no colours, a little deeper than the console. */
export function inspectPlain(value: unknown): string {
  return inspect(value, { colors: false, depth: 4, maxArrayLength: 100, breakLength: 100 });
}

/**
 * Why `value` is not a Plotly figure (a plain object with a `data` array of trace objects, and
 * optionally `layout`, `config` and `frames`, as Plotly itself accepts), or undefined when it is one.
 */
export function plotlyFigureProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return "got an instance of a class, not a plain object";
  const record = value as Record<string, unknown>;
  const data = record["data"];
  if (!Array.isArray(data)) return "`data` must be an array of traces";
  const badTrace = data.findIndex((trace) => typeof trace !== "object" || trace === null || Array.isArray(trace));
  if (badTrace >= 0) return `data[${badTrace}] must be a trace object, got ${JSON.stringify(data[badTrace]) ?? String(data[badTrace])}`;
  for (const key of ["layout", "config"]) {
    const part = record[key];
    if (part !== undefined && (typeof part !== "object" || part === null || Array.isArray(part))) return `\`${key}\` must be an object when given`;
  }
  if (record["frames"] !== undefined && !Array.isArray(record["frames"])) return "`frames` must be an array when given";
  const unknownKey = Object.keys(record).find((key) => !plotlyFigureKeys.has(key));
  if (unknownKey !== undefined) return `unknown key ${JSON.stringify(unknownKey)} (a figure has data, layout, config and frames)`;
  return undefined;
}

const plotlyFigureKeys = new Set(["data", "layout", "config", "frames"]);

/** True for plain objects shaped like a Plotly figure (see {@link plotlyFigureProblem}). */
export function isPlotlyFigure(value: unknown): value is PlotlyFigure {
  return plotlyFigureProblem(value) === undefined;
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
    // A result shows as a plot only with a layout too: `{ data: [{...}] }` is common API data.
    if (isPlotlyFigure(value) && value.layout !== undefined) return { data: plotlyBundle(value), metadata: {} };
  }
  return { data: { "text/plain": inspectPlain(value) }, metadata: {} };
}

/** Bytes or base64 text → base64 text. */
export function toBase64(bytes: Uint8Array | string): string {
  return typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
