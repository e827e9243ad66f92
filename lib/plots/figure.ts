/**
 * Plain Plotly figure JSON (the subset ringbook builds). Plots leave `lib/` as this data; the kernel
 * turns it into display messages and the front ends draw it.
 */
export interface ScatterTrace {
  type: "scatter";
  name: string;
  x: number[];
  y: number[];
  mode?: "lines" | "markers" | "lines+markers";
  line?: { width?: number; color?: string; dash?: "solid" | "dot" | "dash" };
  opacity?: number;
  /** Stacked areas: traces with the same stackgroup are summed. */
  stackgroup?: string;
  xaxis?: string;
  yaxis?: string;
  showlegend?: boolean;
  legendgroup?: string;
  hovertemplate?: string;
}

export interface BarTrace {
  type: "bar";
  name: string;
  x: Array<number | string>;
  y: number[];
  marker?: { color?: string };
  xaxis?: string;
  yaxis?: string;
}

export type Trace = ScatterTrace | BarTrace;

export interface Axis {
  title?: { text: string };
  domain?: [number, number];
  anchor?: string;
  type?: "linear" | "log" | "category";
  rangemode?: "tozero" | "normal";
}

export interface Layout {
  title?: { text: string };
  height?: number;
  width?: number;
  margin?: { l: number; r: number; t: number; b: number };
  legend?: { orientation?: "h" | "v"; x?: number; y?: number };
  barmode?: "group" | "stack";
  showlegend?: boolean;
  /** Plotly keeps zoom and legend state across `Plotly.react` when this stays the same. */
  uirevision?: string;
  annotations?: Array<{ text: string; x: number; y: number; xref: string; yref: string; showarrow: false; font?: { size: number } }>;
  [axis: `xaxis${string}` | `yaxis${string}`]: Axis | undefined;
}

export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** Rounds to `digits` significant digits: figures stay small in saved notebooks. */
export function roundSignificant(value: number, digits = 5): number {
  if (!Number.isFinite(value) || value === 0) return Number.isFinite(value) ? value : Number.NaN;
  return Number(value.toPrecision(digits));
}

/** A palette readable on light and dark themes. */
export const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"] as const;

export function colorAt(index: number): string {
  return palette[index % palette.length]!;
}
