import tf from "../tfjs.cjs";

/**
 * The inputs or the targets of a batch: one tensor (one input or output), an array of tensors
 * (several, in the model's order) or a map from input or output names to tensors. Every tensor has
 * the samples along its first axis.
 */
export type TensorTree = tf.Tensor | tf.Tensor[] | { [name: string]: tf.Tensor };

/** A batch of samples: inputs `xs` and targets `ys`, each a {@link TensorTree}. */
export interface Batch {
  xs: TensorTree;
  ys: TensorTree;
}

/** True for a tfjs tensor of this process's tfjs. */
export function isTensor(value: unknown): value is tf.Tensor {
  return value instanceof tf.Tensor;
}

/** The tensors of a tree, in a fixed order (array order, or the map's insertion order). */
export function treeLeaves(tree: TensorTree): tf.Tensor[] {
  if (isTensor(tree)) return [tree];
  if (Array.isArray(tree)) return tree;
  return Object.values(tree);
}

/** Frees every tensor of a batch. */
export function disposeBatch(batch: Batch): void {
  tf.dispose([...treeLeaves(batch.xs), ...treeLeaves(batch.ys)]);
}

/** The number of samples of a tree: the first axis of its first tensor. */
export function sampleCount(tree: TensorTree): number {
  const first = treeLeaves(tree)[0];
  return first === undefined ? 0 : (first.shape[0] ?? 0);
}

/** `[n, 28, 28, 1]` written as in the messages: the sample axis as `n`. */
export function formatBatchShape(sampleShape: readonly (number | null)[]): string {
  return `[${["n", ...sampleShape.map((d) => (d === null ? "?" : String(d)))].join(", ")}]`;
}
