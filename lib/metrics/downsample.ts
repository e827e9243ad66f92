/**
 * Largest-Triangle-Three-Buckets downsampling: at most `maxPoints` of the points (x ascending),
 * keeping the first, the last and the visually important ones (spikes survive, unlike striding).
 * Returns indices into the input, so several series can be thinned alike.
 */
export function downsampleIndices(xs: readonly number[], ys: readonly number[], maxPoints: number): number[] {
  const n = xs.length;
  if (maxPoints < 3) throw new RangeError(`maxPoints must be at least 3, got ${maxPoints}`);
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const chosen = [0];
  const bucketSize = (n - 2) / (maxPoints - 2);
  let previous = 0;
  for (let bucket = 0; bucket < maxPoints - 2; bucket++) {
    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.min(Math.floor((bucket + 1) * bucketSize) + 1, n - 1);
    // Average of the next bucket is the third corner of the triangle.
    const nextStart = end;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let i = nextStart; i < nextEnd; i++) {
      avgX += xs[i]!;
      avgY += finite(ys[i]!);
    }
    const count = Math.max(nextEnd - nextStart, 1);
    avgX /= count;
    avgY /= count;
    let best = start;
    let bestArea = -1;
    const px = xs[previous]!;
    const py = finite(ys[previous]!);
    for (let i = start; i < end; i++) {
      const area = Math.abs((px - avgX) * (finite(ys[i]!) - py) - (px - xs[i]!) * (avgY - py));
      if (area > bestArea) {
        bestArea = area;
        best = i;
      }
    }
    chosen.push(best);
    previous = best;
  }
  chosen.push(n - 1);
  return chosen;
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
