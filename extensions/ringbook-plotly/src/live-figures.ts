/**
 * Which renderers draw which live figure stream, so that deltas arriving on a kernel's comm reach
 * them. One registry per page: the MIME renderer (mimeExtension) and the plugin that opens the
 * comms (extension) are two entry points of one module federation container and share it.
 *
 * The registry also keeps each stream's deltas since its last whole figure, because a renderer can
 * start drawing a revision after its first deltas arrived: JupyterLab makes a new renderer for an
 * output opened in another view ("Create New View for Cell Output", a second view of the notebook)
 * in the middle of a run. A renderer that missed a delta ignores every later one of that revision
 * (they must follow in order), so without them such a plot stood still until the next whole
 * figure, up to 10 s later, or the end of a shorter run.
 */
import type { FigureDelta } from "./figure-stream.js";

/** What a renderer of a live figure offers the registry. */
export interface LiveFigure {
  /** Appends the delta's points when it is the next one for the revision drawn, else ignores it. */
  applyDelta(delta: FigureDelta): void;
}

/** Deltas kept per stream: the kernel shows the figure whole every 10 s, at most 20 deltas a second between. */
const keptDeltasPerStream = 400;
/** Streams whose deltas are kept, the most recently active (one per live figure on the page). */
const keptStreams = 16;

const byStream = new Map<string, Set<LiveFigure>>();
/** The deltas of each stream's newest revision, in arrival order; iteration order is least recently active first. */
const keptByStream = new Map<string, FigureDelta[]>();

/** Deltas of `stream` go to `figure` until the returned function is called. */
export function followStream(stream: string, figure: LiveFigure): () => void {
  let figures = byStream.get(stream);
  if (figures === undefined) byStream.set(stream, (figures = new Set()));
  figures.add(figure);
  return () => {
    figures.delete(figure);
    if (figures.size === 0 && byStream.get(stream) === figures) byStream.delete(stream);
  };
}

/** Hands `delta` to the renderers of its stream (each applies it only if it is the next one), and keeps it. */
export function deliverDelta(delta: FigureDelta): void {
  keep(delta);
  for (const figure of byStream.get(delta.stream) ?? []) figure.applyDelta(delta);
}

/** The kept deltas of `stream`'s `revision`, in the order they arrived, for a renderer that starts drawing it. */
export function keptDeltas(stream: string, revision: number): readonly FigureDelta[] {
  const kept = keptByStream.get(stream);
  return kept !== undefined && kept[0]?.revision === revision ? kept : [];
}

function keep(delta: FigureDelta): void {
  const kept = keptByStream.get(delta.stream);
  const keptRevision = kept?.[0]?.revision;
  if (keptRevision !== undefined && delta.revision < keptRevision) return; // a late delta of a revision shown whole since
  // Re-inserted, so that the least recently active stream is the first one to forget.
  keptByStream.delete(delta.stream);
  const deltas = kept !== undefined && keptRevision === delta.revision ? kept : [];
  deltas.push(delta);
  if (deltas.length > keptDeltasPerStream) deltas.shift();
  keptByStream.set(delta.stream, deltas);
  for (const stream of keptByStream.keys()) {
    if (keptByStream.size <= keptStreams) break;
    keptByStream.delete(stream);
  }
}
