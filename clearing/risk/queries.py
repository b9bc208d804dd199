"""What a member sees: equity, IM, MM, free collateral, liquidation prices.

Every figure comes from the same functions the engine uses (``margin.py``),
so a displayed liquidation price is exactly where the engine's check flips.
The liquidation price of a position is the mark of that instrument at which
the end-of-block check (``equity < MM``) would liquidate the sub-account, all
else unchanged: variation margin moves equity by ``q * (p - mark)`` and the
requirement moves with the mark too, since the risk arrays are rebuilt at the
new mark (a scenario's loss is a fraction of the price; options on a moved
future are revalued). For a long it is the highest price below the mark that
liquidates, for a short the lowest above it; the mark itself when the account
is already below MM; ``None`` when no such price does (down to 1, up to the
largest price a feed may report).

The search bisects the integer price with the engine's own check at each
candidate, so the served price always liquidates and the next price toward the
mark does not. It is the first price that liquidates whenever the check holds
on one side of a boundary and fails on the other, which is the case for a
single future or perpetual (a short's equity falls and its requirement rises
with the price; a long's equity falls by ``q`` a tick while its requirement
falls by at most ``k * q``, ``k < 1``, as long as no scenario loses more than
the whole price).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from clearing.assets import CollateralKey
from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import (
    compute_equity,
    compute_initial_margin,
    compute_maintenance_margin,
    compute_scenario_losses,
    is_maintenance_met,
)
from clearing.units import MAX_UINT64

PRICE_CAP = MAX_UINT64  # the largest price a feed may report (the oracle's bound)
ArraysAt = Callable[[str, int], RiskArrays]
"""The risk arrays the engine builds with one instrument marked at another price."""


@dataclass(frozen=True, slots=True)
class AccountRisk:
    equity: int
    initial_margin: int
    maintenance_margin: int
    free_collateral: int  # equity - IM: what may be withdrawn or used (negative: none)
    liquidation_prices: tuple[tuple[str, int | None], ...]  # by instrument id


def get_account_risk(
    cash: int,
    collateral: Mapping[CollateralKey, int],
    weights: Mapping[CollateralKey, int],
    positions: Mapping[str, int],
    marks: Mapping[str, int],
    arrays: RiskArrays,
    k_num: int,
    k_den: int,
    arrays_at: ArraysAt,
) -> AccountRisk:
    equity = compute_equity(cash, collateral, weights)
    im = compute_initial_margin(compute_scenario_losses(positions, arrays))
    prices = tuple(
        (iid, get_liquidation_price(equity, positions, marks, iid, k_num, k_den, arrays_at))
        for iid, q in sorted(positions.items())
        if q
    )
    mm = compute_maintenance_margin(im, k_num, k_den)
    return AccountRisk(equity, im, mm, equity - im, prices)


def get_liquidation_price(
    equity: int,
    positions: Mapping[str, int],
    marks: Mapping[str, int],
    instrument_id: str,
    k_num: int,
    k_den: int,
    arrays_at: ArraysAt,
) -> int | None:
    """Where the engine's maintenance check flips when this instrument's mark alone moves."""
    quantity, mark = positions[instrument_id], marks[instrument_id]

    def is_met_at(price: int) -> bool:
        losses = compute_scenario_losses(positions, arrays_at(instrument_id, price))
        moved = equity + quantity * (price - mark)  # variation margin at the moved mark
        return is_maintenance_met(moved, compute_initial_margin(losses), k_num, k_den)

    return compute_liquidation_price(quantity, mark, is_met_at)


def compute_liquidation_price(
    quantity: int, mark: int, is_met_at: Callable[[int], bool]
) -> int | None:
    """Boundary of a margin predicate by integer bisection from the mark.

    Long: the highest price in [1, mark] where ``is_met_at`` fails, with the
    price above it holding; short: the lowest in [mark, PRICE_CAP], found by
    doubling from the mark first (a short's price is seldom far above it).
    ``mark`` itself when already failing.
    """
    if quantity == 0:
        return None
    if not is_met_at(mark):
        return mark
    if quantity > 0:
        if is_met_at(1):
            return None
        low, high = 1, mark  # fails at low, holds at high
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if is_met_at(mid) else (mid, high)
        return low
    low, high = mark, min(2 * mark, PRICE_CAP)  # holds at low
    while is_met_at(high):
        if high == PRICE_CAP:
            return None
        low, high = high, min(2 * high, PRICE_CAP)
    while high - low > 1:  # holds at low, fails at high
        mid = (low + high) // 2
        low, high = (mid, high) if is_met_at(mid) else (low, mid)
    return high
