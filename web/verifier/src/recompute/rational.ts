/**
 * Exact rationals and integer rounding, as Python's `fractions.Fraction`,
 * `round()` (half to even) and `clearing.units` (floor and ceiling division).
 */

/** `clearing.units.BPS_DENOMINATOR`: basis points per whole. */
export const BPS = 10_000n;

export interface Fraction {
  readonly num: bigint;
  readonly den: bigint; // > 0, coprime with num
}

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function fraction(num: bigint, den = 1n): Fraction {
  if (den === 0n) throw new RangeError("Fraction with a zero denominator");
  const sign = den < 0n ? -1n : 1n;
  const g = gcd(num, den) || 1n;
  return { num: (sign * num) / g, den: (sign * den) / g };
}

export function times(a: Fraction, b: Fraction): Fraction {
  return fraction(a.num * b.num, a.den * b.den);
}

/** `str(Fraction)`: `-1/3`, `2`. */
export function formatFraction(f: Fraction): string {
  return f.den === 1n ? `${f.num}` : `${f.num}/${f.den}`;
}

/** `numerator // denominator` (toward minus infinity), denominator > 0. */
export function divFloor(numerator: bigint, denominator: bigint): bigint {
  const q = numerator / denominator;
  return q * denominator > numerator ? q - 1n : q;
}

/** `-((-numerator) // denominator)`, denominator > 0. */
export function divCeil(numerator: bigint, denominator: bigint): bigint {
  return -divFloor(-numerator, denominator);
}

/** `round(Fraction(numerator, denominator))`: nearest integer, ties to even. */
export function roundHalfEven(numerator: bigint, denominator: bigint): bigint {
  const floor = divFloor(numerator, denominator);
  const twice = 2n * (numerator - floor * denominator);
  if (twice < denominator) return floor;
  if (twice > denominator) return floor + 1n;
  return floor % 2n === 0n ? floor : floor + 1n;
}
