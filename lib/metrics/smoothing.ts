/**
 * Exponential moving average with bias correction (TensorBoard's "smoothing"): early points are not
 * pulled towards zero. `weight` 0 returns the input; 0.9 is a typical setting.
 */
export function smoothExponential(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing weight must be in [0, 1), got ${weight}`);
  const smoothed: number[] = [];
  let last = 0;
  let debias = 0;
  for (const value of values) {
    if (!Number.isFinite(value)) {
      smoothed.push(value);
      continue;
    }
    last = last * weight + (1 - weight) * value;
    debias = debias * weight + (1 - weight);
    smoothed.push(last / debias);
  }
  return smoothed;
}

/**
 * {@link smoothExponential} read only at `indices` (ascending): one pass over `values` that keeps no
 * array of their length, for plots that show a few hundred points of a long run several times a
 * second.
 */
export function smoothExponentialAt(values: readonly number[], weight: number, indices: readonly number[]): number[] {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing weight must be in [0, 1), got ${weight}`);
  const smoothed: number[] = [];
  let last = 0;
  let debias = 0;
  let next = 0;
  const end = indices.length === 0 ? 0 : indices[indices.length - 1]! + 1;
  for (let i = 0; i < end; i++) {
    const value = values[i]!;
    const finite = Number.isFinite(value);
    if (finite) {
      last = last * weight + (1 - weight) * value;
      debias = debias * weight + (1 - weight);
    }
    if (i === indices[next]) {
      smoothed.push(finite ? last / debias : value);
      next++;
    }
  }
  if (next !== indices.length) throw new RangeError(`indices must be ascending and below ${values.length}, got ${JSON.stringify(indices.slice(0, 8))}...`);
  return smoothed;
}
