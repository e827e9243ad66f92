/** The MIME type of Plotly figures: `{ data, layout, config, frames }` as JSON. */
export const plotlyMimeType = "application/vnd.plotly.v1+json";

/** A figure checked at the boundary and copied, so that Plotly never mutates the output model. */
export interface PlotlyFigure {
  data: unknown[];
  layout: Record<string, unknown>;
  config: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
}

/**
 * Parses the output's `application/vnd.plotly.v1+json` value. `layout.uirevision` defaults to a
 * constant so that zoom, pan and legend clicks survive in-place updates of a live figure.
 *
 * @example parsePlotlyFigure({ data: [{ type: "scatter", y: [1, 2] }] })
 */
export function parsePlotlyFigure(value: unknown): PlotlyFigure {
  if (!isRecord(value)) throw new TypeError(`${plotlyMimeType} must be an object, got ${describe(value)}`);
  const { data, layout = {}, config = {} } = value;
  if (!Array.isArray(data)) throw new TypeError(`${plotlyMimeType}: "data" must be an array of traces, got ${describe(data)}`);
  if (!isRecord(layout)) throw new TypeError(`${plotlyMimeType}: "layout" must be an object, got ${describe(layout)}`);
  if (!isRecord(config)) throw new TypeError(`${plotlyMimeType}: "config" must be an object, got ${describe(config)}`);
  const copy = structuredClone({ data, layout, config });
  copy.layout["uirevision"] ??= "ringbook";
  return copy;
}
