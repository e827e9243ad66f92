import { downsampleIndices } from "../metrics/downsample.js";
import { smoothExponentialAt } from "../metrics/smoothing.js";
import type { TrainingHistory } from "../metrics/training-history.js";
import { colorAt, roundSignificant, type Figure, type ScatterTrace } from "./figure.js";

/** Options of {@link trainingFigure}. */
export interface TrainingFigureOptions {
  /** Points per series at most, whatever the run length. @default 400 */
  maxPoints?: number;
  /** EMA weight of the smoothed loss. @default 0.9 */
  smoothing?: number;
  title?: string;
  /**
   * The history rows to plot (ascending), instead of `maxPoints` chosen over the whole run: a live
   * view sends a front end only the rows it has not drawn yet.
   */
  rows?: readonly number[];
  /**
   * Validation passes and epoch ends (`val_loss`, `accuracy`, `val_accuracy` in their logs), drawn
   * livelossplot-style next to the training curves: `val_loss` in the loss panel, and an accuracy
   * panel when the logs have accuracy. With `rows` (a delta), their traces come empty: a live view
   * shows the figure whole when new ones arrived.
   */
  evaluation?: EvaluationSeries;
}

/** Records that carry epoch or validation logs at a global step. */
export interface EvaluationSeries {
  validations: ReadonlyArray<{ step: number; logs: Readonly<Record<string, number>> }>;
  epochs: ReadonlyArray<{ step: number; logs: Readonly<Record<string, number>> }>;
}

/** The values of `name` in `records` with their steps, or empty in a delta. */
function seriesOf(records: EvaluationSeries["epochs"], name: string, delta: boolean): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  if (delta) return { x, y };
  for (const record of records) {
    const value = record.logs[name];
    if (value === undefined || !Number.isFinite(value)) continue;
    x.push(record.step);
    y.push(roundSignificant(value));
  }
  return { x, y };
}

/**
 * The live training dashboard as one figure with three panels sharing the step axis: loss (raw
 * and smoothed), throughput (total and per rank), and the step-time split (data, compute,
 * communication, apply) that shows where time goes. Size is bounded by `maxPoints`.
 */
export function trainingFigure(history: TrainingHistory, options: TrainingFigureOptions = {}): Figure {
  const maxPoints = options.maxPoints ?? 400;
  const c = history.columns;
  const keep = options.rows ?? (history.length === 0 ? [] : downsampleIndices(c.step, c.loss, maxPoints));
  const pick = (column: readonly number[]): number[] => keep.map((i) => roundSignificant(column[i]!));
  const smoothed = smoothExponentialAt(c.loss, options.smoothing ?? 0.9, keep).map((value) => roundSignificant(value));
  const steps = keep.map((i) => c.step[i]!);
  const line = (name: string, y: number[], axis: 1 | 2 | 3 | 4, extra: Partial<ScatterTrace> = {}): ScatterTrace => ({
    type: "scatter",
    mode: "lines",
    name,
    x: steps,
    y,
    xaxis: axis === 1 ? "x" : `x${axis}`,
    yaxis: axis === 1 ? "y" : `y${axis}`,
    ...extra,
  });
  const data: ScatterTrace[] = [
    line("loss", pick(c.loss), 1, { line: { width: 1, color: colorAt(0) }, opacity: 0.35, legendgroup: "loss" }),
    line("loss (smoothed)", smoothed, 1, { line: { width: 2, color: colorAt(0) }, legendgroup: "loss" }),
    line("samples/s (total)", pick(c.samplesPerSecond), 2, { line: { width: 2, color: colorAt(1) } }),
  ];
  if (history.worldSize > 1) {
    c.rankSamplesPerSecond.forEach((column, rank) =>
      data.push(line(`samples/s rank ${rank}`, pick(column), 2, { line: { width: 1, dash: "dot", color: colorAt(4 + rank) } })),
    );
  }
  const parts: Array<[string, readonly number[], number]> = [
    ["data ms", c.dataMs, 7],
    ["compute ms", c.computeMs, 2],
    ["communication ms", c.communicationMs, 3],
    ["apply ms", c.applyMs, 9],
  ];
  for (const [name, column, color] of parts) {
    data.push(line(name, pick(column), 3, { stackgroup: "time", line: { width: 0.5, color: colorAt(color) } }));
  }
  const evaluation = options.evaluation;
  const delta = options.rows !== undefined;
  const points = (series: { x: number[]; y: number[] }, name: string, axis: 1 | 4, color: number, dash?: "dot"): ScatterTrace => ({
    ...line(name, series.y, axis, { mode: "lines+markers", line: { width: 2, color: colorAt(color), ...(dash === undefined ? {} : { dash }) } }),
    x: series.x,
  });
  if (evaluation !== undefined && evaluation.validations.some((record) => record.logs.val_loss !== undefined)) {
    data.push(points(seriesOf(evaluation.validations, "val_loss", delta), "val_loss", 1, 3));
  }
  const accuracyPanel = evaluation !== undefined && [...evaluation.epochs, ...evaluation.validations].some((record) => "accuracy" in record.logs || "val_accuracy" in record.logs);
  if (accuracyPanel) {
    data.push(points(seriesOf(evaluation.epochs, "accuracy", delta), "accuracy (epoch)", 4, 0, "dot"));
    data.push(points(seriesOf(evaluation.validations, "val_accuracy", delta), "val_accuracy", 4, 3));
  }
  // With an accuracy panel, four panels share the height: loss, accuracy, throughput, step time.
  const domains: Record<"loss" | "accuracy" | "samples" | "ms", [number, number]> = accuracyPanel
    ? { loss: [0.78, 1], accuracy: [0.53, 0.72], samples: [0.27, 0.47], ms: [0, 0.21] }
    : { loss: [0.68, 1], accuracy: [0, 0], samples: [0.36, 0.62], ms: [0, 0.3] };
  return {
    data,
    layout: {
      title: { text: options.title ?? "training" },
      height: accuracyPanel ? 720 : 560,
      margin: { l: 60, r: 20, t: 40, b: 40 },
      uirevision: "ringbook-training",
      legend: { orientation: "v" },
      xaxis: { anchor: "y", domain: [0, 1] },
      yaxis: { title: { text: "loss" }, domain: domains.loss },
      xaxis2: { anchor: "y2", domain: [0, 1] },
      yaxis2: { title: { text: "samples/s" }, domain: domains.samples, rangemode: "tozero" },
      xaxis3: { anchor: "y3", domain: [0, 1], title: { text: "step" } },
      yaxis3: { title: { text: "ms per step" }, domain: domains.ms, rangemode: "tozero" },
      ...(accuracyPanel ? { xaxis4: { anchor: "y4", domain: [0, 1] }, yaxis4: { title: { text: "accuracy" }, domain: domains.accuracy } } : {}),
    },
  };
}
