import { downsampleIndices } from "../metrics/downsample.js";
import { RingbookError } from "../errors.js";
import { colorAt, roundSignificant, type Figure, type ScatterTrace } from "./figure.js";

/** One named series of a {@link linePlot}. */
export interface Series {
  name: string;
  /** Defaults to 0, 1, 2, ... */
  x?: readonly number[];
  y: readonly number[];
}

/** Options of {@link linePlot}. */
export interface LinePlotOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logY?: boolean;
  /** Points per series at most. @default 1000 */
  maxPoints?: number;
  mode?: "lines" | "markers" | "lines+markers";
}

/**
 * A figure of any metric series: loss curves of two runs side by side, a scaling chart, anything
 * with numbers. Long series are downsampled so the saved notebook stays small.
 *
 * @example
 * display.plotly(linePlot([{ name: "lr 1e-3", y: runA.history.columns.loss }, { name: "lr 1e-2", y: runB.history.columns.loss }], { yTitle: "loss" }));
 */
export function linePlot(series: readonly Series[], options: LinePlotOptions = {}): Figure {
  const maxPoints = options.maxPoints ?? 1000;
  const data: ScatterTrace[] = series.map((s, index) => {
    const x = s.x ?? s.y.map((_, i) => i);
    if (x.length !== s.y.length) {
      throw new RingbookError("ERR_BAD_SERIES", `series "${s.name}" has ${x.length} x values and ${s.y.length} y values`);
    }
    const keep = x.length === 0 ? [] : downsampleIndices(x, s.y, Math.max(maxPoints, 3));
    return {
      type: "scatter",
      mode: options.mode ?? "lines",
      name: s.name,
      x: keep.map((i) => roundSignificant(x[i]!, 7)),
      y: keep.map((i) => roundSignificant(s.y[i]!)),
      line: { width: 2, color: colorAt(index) },
    };
  });
  return {
    data,
    layout: {
      ...(options.title === undefined ? {} : { title: { text: options.title } }),
      height: 400,
      margin: { l: 60, r: 20, t: options.title === undefined ? 20 : 40, b: 50 },
      xaxis: options.xTitle === undefined ? {} : { title: { text: options.xTitle } },
      yaxis: { ...(options.yTitle === undefined ? {} : { title: { text: options.yTitle } }), ...(options.logY === true ? { type: "log" as const } : {}) },
    },
  };
}
