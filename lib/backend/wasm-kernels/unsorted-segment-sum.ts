import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import { composeWasmKernel, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `UnsortedSegmentSum` for the wasm backend (the gradient of `gather`, so of embeddings), as one
 * `ScatterNd`, which sums rows with equal indices. Segment ids outside `[0, numSegments)` are
 * dropped, as in TensorFlow and tfjs's cpu kernel: they are sent to one extra segment that is
 * sliced off.
 */
const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs;
  if (x === undefined || segmentIds === undefined) {
    throw new WasmKernelError("UnsortedSegmentSum needs inputs 'x' and 'segmentIds'");
  }
  const numSegments: unknown = attrs?.["numSegments"];
  if (typeof numSegments !== "number" || !Number.isInteger(numSegments) || numSegments < 0) {
    throw new WasmKernelError(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${JSON.stringify(numSegments)}`);
  }
  const idsRank = segmentIds.shape.length;
  if (idsRank === 0 || segmentIds.shape.some((size, axis) => x.shape[axis] !== size)) {
    throw new WasmKernelError(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(",")}] must be a non-empty prefix of x shape [${x.shape.join(",")}]`,
    );
  }
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const rowShape = x.shape.slice(idsRank);
  return composeWasmKernel(backend, (k) => {
    const ids = segmentIds.dtype === "int32" ? k.reshape(segmentIds, [rows]) : k.run("Cast", { x: k.reshape(segmentIds, [rows]) }, { dtype: "int32" });
    const inRange = k.run("LogicalAnd", {
      a: k.run("GreaterEqual", { a: ids, b: k.fill([], 0, "int32") }),
      b: k.run("Less", { a: ids, b: k.fill([], numSegments, "int32") }),
    });
    const safeIds = k.run("Select", { condition: inRange, t: ids, e: k.fill([rows], numSegments, "int32") });
    const summed = k.run(
      "ScatterNd",
      { indices: k.reshape(safeIds, [rows, 1]), updates: k.reshape(x, [rows, ...rowShape]) },
      { shape: [numSegments + 1, ...rowShape] },
    );
    return k.slice(summed, [0, ...rowShape.map(() => 0)], [numSegments, ...rowShape]);
  });
};

/** Registration record for {@link unsortedSegmentSum}. */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: unsortedSegmentSum,
};
