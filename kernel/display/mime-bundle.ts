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
