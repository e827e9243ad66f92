/**
 * Which renderers draw which live figure stream, so that deltas arriving on a kernel's comm reach
 * them. One registry per page: the MIME renderer (mimeExtension) and the plugin that opens the
 * comms (extension) are two entry points of one module federation container and share it.
 */
import type { FigureDelta } from "./figure-stream.js";

/** What a renderer of a live figure offers the registry. */
export interface LiveFigure {
  /** Appends the delta's points when it is the next one for the revision drawn, else ignores it. */
  applyDelta(delta: FigureDelta): void;
}

const byStream = new Map<string, Set<LiveFigure>>();

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

/** Hands `delta` to the renderers of its stream (each applies it only if it is the next one). */
export function deliverDelta(delta: FigureDelta): void {
  for (const figure of byStream.get(delta.stream) ?? []) figure.applyDelta(delta);
}
