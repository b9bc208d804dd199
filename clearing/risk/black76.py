"""Black-76 prices and Greeks of options on futures, in ``decimal`` with a fixed context.

Every node must compute identical risk arrays, so no float is used: all math
runs inside ``localcontext(CONTEXT)`` (50 significant digits, half-even), with
``exp``/``ln``/``sqrt`` from ``decimal`` (correctly rounded) and the normal CDF
from the positive-term series of erf below, which has no cancellation:

    erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))

Beyond |d| > 12 the CDF is saturated to 0 or 1 (the tail is below 1e-32, far
under one settlement unit for any 64-bit price).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import NamedTuple

CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN, Emin=-99999, Emax=99999)
# pi to 62 decimals, built from its digits and exponent: exact, with no context
# rounding and no decimal-point literal that could be mistaken for a float.
PI_DIGITS = "314159265358979323846264338327950288419716939937510582097494459"
PI = Decimal((0, tuple(map(int, PI_DIGITS)), 1 - len(PI_DIGITS)))
YEAR_MS = 365 * 86_400_000
SATURATION = Decimal(12)
ZERO, ONE, TWO = Decimal(0), Decimal(1), Decimal(2)


class Greeks(NamedTuple):
    price: Decimal
    delta: Decimal  # d price / d forward
    gamma: Decimal  # d2 price / d forward2
    vega: Decimal  # d price / d vol (vol as a fraction, not percent)


def normal_cdf(x: Decimal) -> Decimal:
    """Standard normal CDF, 50 digits."""
    with localcontext(CONTEXT):
        if x > SATURATION:
            return ONE
        if x < -SATURATION:
            return ZERO
        return (ONE + _erf(x / TWO.sqrt())) / TWO


def normal_pdf(x: Decimal) -> Decimal:
    with localcontext(CONTEXT):
        return (-(x * x) / TWO).exp() / (TWO * PI).sqrt()


def _erf(x: Decimal) -> Decimal:
    with localcontext(CONTEXT):
        if x < 0:
            return -_erf(-x)
        two_x2 = TWO * x * x
        term, total, n = x, x, 0
        epsilon = Decimal(10) ** -(CONTEXT.prec + 2)
        while term > epsilon * total:
            n += 1
            term = term * two_x2 / (2 * n + 1)
            total += term
        return TWO / PI.sqrt() * (-(x * x)).exp() * total


def compute_black76(
    forward: Decimal, strike: Decimal, vol: Decimal, years: Decimal, rate: Decimal, is_call: bool
) -> Greeks:
    """Black (1976): value of a European option on a future, discounted at ``rate``.

    With no time or no volatility left the value is the discounted intrinsic value.
    """
    with localcontext(CONTEXT):
        discount = (-rate * years).exp()
        if years <= 0 or vol <= 0:
            intrinsic = max(forward - strike, ZERO) if is_call else max(strike - forward, ZERO)
            in_money = forward > strike if is_call else forward < strike
            delta = (ONE if is_call else -ONE) * discount if in_money else ZERO
            return Greeks(discount * intrinsic, delta, ZERO, ZERO)
        root_t = years.sqrt()
        sigma_t = vol * root_t
        d1 = ((forward / strike).ln() + vol * vol * years / TWO) / sigma_t
        d2 = d1 - sigma_t
        if is_call:
            price = discount * (forward * normal_cdf(d1) - strike * normal_cdf(d2))
            delta = discount * normal_cdf(d1)
        else:
            price = discount * (strike * normal_cdf(-d2) - forward * normal_cdf(-d1))
            delta = -discount * normal_cdf(-d1)
        pdf = normal_pdf(d1)
        gamma = discount * pdf / (forward * sigma_t)
        vega = discount * forward * pdf * root_t
        return Greeks(price, delta, gamma, vega)


def compute_option_value(
    forward: int, strike: int, vol_bps: int, remaining_ms: int, rate_bps: int, is_call: bool
) -> Decimal:
    """Black-76 value per lot of integer inputs (prices per lot, vol and rate in bps)."""
    with localcontext(CONTEXT):
        years = Decimal(max(remaining_ms, 0)) / Decimal(YEAR_MS)
        bps = Decimal(10_000)
        return compute_black76(
            Decimal(forward), Decimal(strike), Decimal(vol_bps) / bps, years,
            Decimal(rate_bps) / bps, is_call,
        ).price  # fmt: skip
