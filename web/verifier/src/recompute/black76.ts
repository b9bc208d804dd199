/**
 * Black-76 values of options on futures: a port of `clearing/risk/black76.py`,
 * operation for operation. The Python runs in `decimal` with 50 significant
 * digits, half-even, with correctly rounded exp, ln and sqrt; decimal.js
 * configured alike rounds each operation the same way (its exp, ln and sqrt
 * are correctly rounded too), so the same sequence of operations gives the
 * same digits. The exponent range is the Python context's (Emin -99999, Emax
 * 99999): below it both give a value far under one settlement unit.
 */

import DecimalJs from "decimal.js";

export const Dec = DecimalJs.clone({
  precision: 50,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  minE: -99999,
  maxE: 99999,
});
export type Dec = InstanceType<typeof Dec>;

const PI = new Dec("3.14159265358979323846264338327950288419716939937510582097494459");
const YEAR_MS = 365n * 86_400_000n;
const SATURATION = new Dec(12);
const ZERO = new Dec(0);
const ONE = new Dec(1);
const TWO = new Dec(2);
const EPSILON = new Dec("1e-52"); // 10 ** -(prec + 2)

export function fromBigInt(value: bigint): Dec {
  return new Dec(value.toString());
}

/** Standard normal CDF; saturated to 0 or 1 beyond |x| > 12. */
export function normalCdf(x: Dec): Dec {
  if (x.gt(SATURATION)) return ONE;
  if (x.lt(SATURATION.neg())) return ZERO;
  return ONE.plus(erf(x.div(TWO.sqrt()))).div(TWO);
}

/** erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)) */
function erf(x: Dec): Dec {
  if (x.lt(0)) return erf(x.neg()).neg();
  const twoX2 = TWO.times(x).times(x);
  let term = x;
  let total = x;
  let n = 0n;
  while (term.gt(EPSILON.times(total))) {
    n += 1n;
    term = term.times(twoX2).div(fromBigInt(2n * n + 1n));
    total = total.plus(term);
  }
  return TWO.div(PI.sqrt()).times(x.times(x).neg().exp()).times(total);
}

/** Black (1976) price of a European option on a future, discounted at `rate`; with no
 * time left, the discounted intrinsic value. Null where the Python raises
 * `decimal.InvalidOperation`: time left and a forward <= 0 (the logarithm of a
 * negative moneyness, or 0/0 in the gamma of a zero forward). */
export function computeBlack76(
  forward: Dec, strike: Dec, vol: Dec, years: Dec, rate: Dec, isCall: boolean,
): Dec | null {
  const discount = rate.neg().times(years).exp();
  if (years.lte(0) || vol.lte(0)) {
    const intrinsic = Dec.max(isCall ? forward.minus(strike) : strike.minus(forward), ZERO);
    return discount.times(intrinsic);
  }
  if (forward.lte(0)) return null;
  const rootT = years.sqrt();
  const sigmaT = vol.times(rootT);
  const d1 = forward.div(strike).ln().plus(vol.times(vol).times(years).div(TWO)).div(sigmaT);
  const d2 = d1.minus(sigmaT);
  if (isCall) return discount.times(forward.times(normalCdf(d1)).minus(strike.times(normalCdf(d2))));
  return discount.times(strike.times(normalCdf(d2.neg())).minus(forward.times(normalCdf(d1.neg()))));
}

/** Black-76 value per lot of integer inputs (prices per lot, vol and rate in bps). */
export function computeOptionValue(
  forward: bigint, strike: bigint, volBps: bigint, remainingMs: bigint, rateBps: bigint, isCall: boolean,
): Dec | null {
  const years = fromBigInt(remainingMs > 0n ? remainingMs : 0n).div(fromBigInt(YEAR_MS));
  const bps = new Dec(10_000);
  return computeBlack76(
    fromBigInt(forward), fromBigInt(strike), fromBigInt(volBps).div(bps), years, fromBigInt(rateBps).div(bps), isCall,
  );
}

/** `int(d.to_integral_value())` in the context: nearest integer, ties to even. */
export function toIntegralHalfEven(value: Dec): bigint {
  return BigInt(value.toDecimalPlaces(0, Dec.ROUND_HALF_EVEN).toFixed(0));
}
