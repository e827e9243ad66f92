import { ArrayDataset } from "./dataset.js";
import { createSeededRandom } from "./seeded-random.js";

/** Options of {@link syntheticClassification}. */
export interface SyntheticOptions {
  /** @default 4096 */
  size?: number;
  /** @default 32 */
  features?: number;
  /** @default 10 */
  classes?: number;
  /** @default 1 */
  seed?: number;
}

/**
 * A learnable synthetic classification set: Gaussian inputs labelled by a fixed random linear
 * teacher (argmax of `W·x`). Deterministic for a seed, so every rank builds the same data.
 *
 * @example
 * const data = syntheticClassification({ size: 2048, features: 16, classes: 4, seed: 7 });
 */
export function syntheticClassification(options: SyntheticOptions = {}): ArrayDataset {
  const size = options.size ?? 4096;
  const featureCount = options.features ?? 32;
  const classes = options.classes ?? 10;
  const random = createSeededRandom(options.seed ?? 1);
  const gaussian = (): number => {
    // Box–Muller; 1 - u keeps log away from 0.
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const teacher = Float32Array.from({ length: classes * featureCount }, gaussian);
  const features = Float32Array.from({ length: size * featureCount }, gaussian);
  const labels = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < classes; c++) {
      let score = 0;
      for (let f = 0; f < featureCount; f++) score += teacher[c * featureCount + f]! * features[i * featureCount + f]!;
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    labels[i] = best;
  }
  return new ArrayDataset({ name: `synthetic(${size}x${featureCount}, ${classes} classes)`, features, labels, sampleShape: [featureCount], numClasses: classes });
}
