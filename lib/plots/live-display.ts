/**
 * The bookkeeping live figures share. They reach the notebook through its host (see
 * lib/notebook-host.ts), to which they hand only plain figure JSON, text and figure deltas. In a
 * plain Node script there is no host and live figures show nothing.
 */
import { randomUUID } from "node:crypto";
import { notebookHost, type LiveDisplayHost } from "../notebook-host.js";
import type { FigureDelta, FigureStreamTag } from "./figure-stream.js";

/** The host's live figures, when running in a notebook. */
export function findDisplayHost(): LiveDisplayHost | undefined {
  return notebookHost()?.liveFigures;
}

/** One display's trailing rate limit: {@link request} shows it once {@link dueAt} is reached, never earlier. */
export class TrailingUpdate {
  /** Earliest time (performance.now) of the next update; set by whoever shows it. */
  dueAt = Number.NEGATIVE_INFINITY;
  readonly #show: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(show: () => void) {
    this.#show = show;
  }

  /** Asks for an update; one already pending covers it (a burst ends with its last state shown). */
  request(): void {
    if (this.#timer === undefined) this.#arm();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // Node's timers can fire a millisecond early against performance.now() (libuv's clock is
        // cached per loop turn, in whole ms): at 4 updates a second some seconds would hold 5.
        if (performance.now() < this.dueAt) this.#arm();
        else this.#show();
      },
      Math.ceil(Math.max(0, this.dueAt - performance.now())),
    );
  }
}

/**
 * While front ends apply deltas, the whole figure is still shown this often: it is what the saved
 * notebook keeps, and what front ends without ringbook's extension (a classic notebook open on the
 * same kernel) draw, so they are at most this far behind.
 */
export const wholeFigureIntervalMs = 10_000;

/**
 * A front end's figure grows by each delta; once it would hold more than this many times
 * `maxPoints` per trace, the next update is a whole (downsampled) figure again, so the browser's
 * drawing stays bounded however long the run.
 */
export const deltaGrowthFactor = 4;

/** Points per trace in one delta at most: a quarter of the whole figure's `maxPoints`. */
export function maxDeltaPoints(maxPoints: number): number {
  return Math.max(3, Math.floor(maxPoints / 4));
}

/**
 * One live figure's stream state: the revision last shown whole, the deltas sent since, and
 * whether the next update may be a delta (a front end listens, the whole figure is not due, and
 * the drawn figure stays within its bound).
 */
export class FigureStreamState {
  readonly #host: LiveDisplayHost;
  readonly #maxPoints: number;
  #tag: FigureStreamTag = { stream: randomUUID(), revision: 0 };
  #seq = 0;
  #wholeShownAt = Number.NEGATIVE_INFINITY;
  #drawnPoints = 0;
  #deltas = 0;

  constructor(host: LiveDisplayHost, maxPoints: number) {
    this.#host = host;
    this.#maxPoints = maxPoints;
  }

  /** Deltas sent so far. */
  get deltas(): number {
    return this.#deltas;
  }

  /** Whether an update at `now` may be a delta (`points` would be added per trace, at most). */
  deltaAllowed(now: number, points = 0): boolean {
    if (this.#host.sendFigureDelta === undefined || (this.#host.figureListeners?.() ?? 0) === 0) return false;
    if (this.#tag.revision === 0 || now - this.#wholeShownAt >= wholeFigureIntervalMs) return false;
    return this.#drawnPoints + points <= deltaGrowthFactor * this.#maxPoints;
  }

  /** Records a whole figure shown at `now` with `pointsPerTrace` points; returns its tag. */
  shownWhole(now: number, pointsPerTrace: number): FigureStreamTag {
    this.#tag = { stream: this.#tag.stream, revision: this.#tag.revision + 1 };
    this.#seq = 0;
    this.#wholeShownAt = now;
    this.#drawnPoints = pointsPerTrace;
    return this.#tag;
  }

  /** Sends the points of `traces` (one entry per trace of the figure) as the next delta. */
  sendDelta(traces: FigureDelta["traces"]): void {
    const points = Math.max(0, ...traces.map((trace) => trace.x.length));
    this.#host.sendFigureDelta?.({ stream: this.#tag.stream, revision: this.#tag.revision, seq: ++this.#seq, traces });
    this.#drawnPoints += points;
    this.#deltas++;
  }
}

/**
 * Share of wall time a whole figure may take to build and hand to the host. An update costs a
 * few milliseconds (downsampling, the static SVG, serialization), which at 4 updates a second on a
 * busy machine reaches 1% of a core the workers need; updates are spaced out to stay within this
 * share (never more often than the rate limit), so the plot's cost stays bounded whatever the
 * machine, the run length or the number of ranks (up to one update a second, see
 * `maxFigureIntervalMs`). The time measured is wall time: on a machine busy enough to slow
 * an update down, updates come less often. The progress line is cheap and keeps its rate. The
 * share is small because building is only part of an update's cost: the kernel's main thread
 * serializes, signs and sends it as well (about as long again), and in synchronous training a
 * worker that loses its core for that makes every rank wait.
 */
const figureTimeShare = 0.002;

/** The figure is updated at least this often while steps arrive, however long an update takes. */
const maxFigureIntervalMs = 1000;

/**
 * Time from the start of one figure update to the next: the rate limit `minIntervalMs`, and for a
 * whole figure that took `wholeTookMs` to build, also its time share (capped at one a second).
 * A delta (`undefined`: a fraction of a millisecond) keeps the rate limit.
 */
export function figureSpacingMs(minIntervalMs: number, wholeTookMs: number | undefined): number {
  if (wholeTookMs === undefined) return minIntervalMs;
  return Math.max(minIntervalMs, Math.min(maxFigureIntervalMs, wholeTookMs / figureTimeShare));
}
