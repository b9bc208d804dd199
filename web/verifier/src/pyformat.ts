/** Values written as the Python verifier writes them (`#x`, a tuple of ints),
 * so that a failure line reads the same in the browser as in `clearnode verify`. The
 * `repr` of strings and their order are recompute/pyrepr.ts's, `str(Fraction)`
 * recompute/rational.ts's. */

/** `repr` of a tuple of ints: (1,) and (1, 2). */
export function reprIntTuple(items: readonly bigint[]): string {
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
}

/** `f"{k:#x}"`. */
export function formatHexInt(k: bigint): string {
  return k < 0n ? `-0x${(-k).toString(16)}` : `0x${k.toString(16)}`;
}
