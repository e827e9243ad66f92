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
