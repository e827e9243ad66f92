/**
 * Live figure streams as the front end reads them (the kernel's side is ringbook's
 * lib/plots/figure-stream.ts): a live figure's output carries `{ stream, revision }` in its
 * metadata; deltas on the `ringbook.plotly` comm append points to each trace of one revision.
 * Everything from the kernel is checked here, at the boundary.
 */

/** The comm target ringbook's kernel serves. */
export const figureStreamTarget = "ringbook.plotly";

/** The version of the comm's messages this extension speaks (sent when it opens the comm). */
export const figureStreamProtocol = 1;

export interface FigureStreamTag {
  stream: string;
  revision: number;
}

export interface FigureDelta extends FigureStreamTag {
  seq: number;
  /** Per trace, in figure order: x values and y values (null for a value JSON cannot carry, such as NaN). */
  traces: Array<{ x: Array<number | string>; y: Array<number | null> }>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The stream tag in an output's metadata for the Plotly MIME type, if it is a live figure. */
export function streamTagOf(metadata: unknown): FigureStreamTag | undefined {
  const tag = isRecord(metadata) && isRecord(metadata["ringbook"]) ? metadata["ringbook"] : undefined;
  if (tag === undefined || typeof tag["stream"] !== "string" || !isCount(tag["revision"])) return undefined;
  return { stream: tag["stream"], revision: tag["revision"] };
}

/** Parses one comm message's data; throws a TypeError saying what is wrong. */
export function parseFigureDelta(value: unknown): FigureDelta {
  if (!isRecord(value)) throw new TypeError("figure delta: expected an object");
  const { stream, revision, seq, traces } = value;
  if (typeof stream !== "string" || stream === "") throw new TypeError("figure delta: \"stream\" must be a non-empty string");
  if (!isCount(revision) || !isCount(seq)) throw new TypeError("figure delta: \"revision\" and \"seq\" must be non-negative integers");
  if (!Array.isArray(traces)) throw new TypeError("figure delta: \"traces\" must be an array");
  const parsed = traces.map((trace: unknown, index) => {
    if (!isRecord(trace) || !Array.isArray(trace["x"]) || !Array.isArray(trace["y"])) throw new TypeError(`figure delta: trace ${index} needs arrays "x" and "y"`);
    const x = trace["x"] as unknown[];
    const y = trace["y"] as unknown[];
    if (x.length !== y.length) throw new TypeError(`figure delta: trace ${index} has ${x.length} x values and ${y.length} y values`);
    if (!x.every((v) => typeof v === "number" || typeof v === "string")) throw new TypeError(`figure delta: trace ${index} has an x value that is neither a number nor a string`);
    if (!y.every((v) => typeof v === "number" || v === null)) throw new TypeError(`figure delta: trace ${index} has a y value that is not a number`);
    return { x: x as Array<number | string>, y: y as Array<number | null> };
  });
  return { stream, revision, seq, traces: parsed };
}
