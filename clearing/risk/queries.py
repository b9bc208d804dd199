"""What a member sees: equity, IM, MM, free collateral, liquidation prices, margin call.

Every figure comes from the same functions the engine uses (``margin.py``),
so a displayed liquidation price is exactly where the engine's check flips.
The liquidation price of a position is the mark of that instrument at which
the sub-account would fall below MM, all else unchanged (this epoch's risk
arrays; variation margin moves equity by ``q * (p - mark)``): for a long the
highest price that liquidates, for a short the lowest. ``None`` when no price
does (a long that survives a price of 1, an account with no such position).
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
from clearing.state import MarginCall

PRICE_CAP = 2**64  # no feed price may exceed it (genesis caps prices at uint64)


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
) -> AccountRisk:
    equity = compute_equity(cash, collateral, weights)
    im = compute_initial_margin(compute_scenario_losses(positions, arrays))
    prices = tuple(
        (iid, get_liquidation_price(equity, im, q, marks[iid], k_num, k_den))
        for iid, q in sorted(positions.items())
        if q
    )
    mm = compute_maintenance_margin(im, k_num, k_den)
    return AccountRisk(equity, im, mm, equity - im, prices)


def get_liquidation_price(
    equity: int, initial_margin: int, quantity: int, mark: int, k_num: int, k_den: int
) -> int | None:
    """Where the engine's own maintenance check flips for a move of this instrument alone."""

    def is_met_at(price: int) -> bool:
        return is_maintenance_met(equity + quantity * (price - mark), initial_margin, k_num, k_den)

    return compute_liquidation_price(quantity, mark, is_met_at)


def compute_liquidation_price(
    quantity: int, mark: int, is_met_at: Callable[[int], bool]
) -> int | None:
    """Boundary of a monotone margin predicate by integer bisection.

    Long: the highest price in [1, mark] where ``is_met_at`` fails; short: the
    lowest in [mark, PRICE_CAP]. ``mark`` itself when already failing.
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
    if is_met_at(PRICE_CAP):
        return None
    low, high = mark, PRICE_CAP  # holds at low, fails at high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if is_met_at(mid) else (low, mid)
    return high


@dataclass(frozen=True, slots=True)
class MarginCallStatus:
    amount_due: int  # IM - equity when the call opened
    opened_height: int
    deadline_height: int  # unmet by the end of this block: liquidation
    blocks_left: int  # blocks after the current height in which it may still be met


def get_margin_call_status(call: MarginCall | None, height: int) -> MarginCallStatus | None:
    """The open margin call of a sub-account at ``height`` (None when there is none)."""
    if call is None:
        return None
    return MarginCallStatus(
        call.amount_due,
        call.opened_height,
        call.deadline_height,
        max(call.deadline_height - height, 0),
    )
