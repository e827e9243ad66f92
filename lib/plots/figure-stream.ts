/**
 * A live figure as a stream: the whole figure is shown now and then (a *revision*), and between
 * revisions front ends that can (ringbook's JupyterLab extension) append the new points of each
 * trace from small deltas instead of receiving the whole figure again. Plain JSON both ways; the
 * kernel carries deltas over a comm, the extension parses them with its own copy of these rules.
 */
import type { Figure } from "./figure.js";

/** What a shown figure carries (in its output metadata) so that deltas find it. */
export interface FigureStreamTag {
  /** The live figure's identity, the same for all its revisions. */
  stream: string;
  /** Increases with every whole figure shown; deltas name the one they extend. */
  revision: number;
}

/** Points to append to each trace of one revision, in trace order. */
export interface FigureDelta extends FigureStreamTag {
  /** 1 for the first delta after a revision, then 2, 3, ...: a front end applies only the next one. */
  seq: number;
  traces: Array<{ x: Array<number | string>; y: number[] }>;
}

/** The comm target the kernel serves and ringbook's JupyterLab extension opens. */
export const figureStreamTarget = "ringbook.plotly";

/** The points of each trace of `figure` (a figure of the new points only), as a delta carries them. */
export function deltaTraces(figure: Figure): FigureDelta["traces"] {
  return figure.data.map((trace) => ({ x: [...trace.x], y: [...trace.y] }));
}
