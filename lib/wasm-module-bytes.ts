/**
 * The pieces of a WebAssembly module's binary encoding that ringbook's hand-assembled SIMD modules
 * (the collectives' sums, the fused optimizers) are built from.
 */

/** An unsigned LEB128 integer. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const low = value & 0x7f;
    value >>>= 7;
    if (value === 0) return [...out, low];
    out.push(low | 0x80);
  }
}

/** A vector: its length, then its items. */
export const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/** A section: its id, its size, then its body. */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/** A name: its length, then its bytes. */
export const text = (name: string): number[] => [...uleb(name.length), ...Buffer.from(name, "latin1")];
