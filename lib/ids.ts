/**
 * Ids that must not be mixed with other numbers where they cross a boundary. A rank is checked
 * once, where it is read or made, and is then a {@link Rank}: a plain count or index passed where
 * a rank is expected does not type-check.
 */
import { RingbookError } from "./errors.js";
import { quote } from "./json-guards.js";

declare const rankBrand: unique symbol;

/** A worker's rank: an integer >= 0 (below its world size, which the reader checks where it knows it). */
export type Rank = number & { readonly [rankBrand]: true };

/** True when `value` can be a rank (an integer >= 0). */
export function isRank(value: unknown): value is Rank {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * `value` as a {@link Rank}, or an `ERR_BAD_RANK` error quoting it.
 * @example
 * const rank = toRank(bootstrap.rank, "bootstrap field rank");
 */
export function toRank(value: unknown, what = "rank"): Rank {
  if (!isRank(value)) throw new RingbookError("ERR_BAD_RANK", `${what} must be an integer >= 0, got ${quote(value)}`);
  return value;
}
