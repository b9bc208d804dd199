"""What a member sees: equity, IM, MM, free collateral, liquidation prices, margin call.

Every figure comes from the same functions the engine uses (``margin.py``),
so a displayed liquidation price is exactly where the engine's check flips.
The liquidation price of a position is the mark of that instrument at which
the end-of-block check (``equity < MM``) would liquidate the sub-account, all
else unchanged: variation margin moves equity by ``q * (p - mark)``, the
requirement moves with the mark too, since the risk arrays are rebuilt at the
new mark (a scenario's loss is a fraction of the price; options on a moved
future are revalued), and collateral priced on the instrument's underlying
(WETH backing ETH-PERP) is revalued with its feed moved by ``p / mark``
(``Revaluation.weights_at``). For a long it is the highest price below the
mark that liquidates, for a short the lowest above it; the mark itself when
the account is already below MM; ``None`` when no such price does (down to 1,
up to the largest price a feed may report). A short backed by more of its
underlying than it is short gains as the price rises: when nothing above the
mark liquidates it, the price served is the highest below the mark that does.

The search narrows an integer bracket (false position, with bisection as a
fallback) evaluating the engine's own check at each candidate, so the served
price always liquidates and the next price toward the mark does not. It is
the first price that liquidates whenever the check holds on one side of a
boundary and fails on the other, which is the case for a single future or
perpetual (a short's equity falls and its requirement rises
with the price; a long's equity falls by ``q`` a tick while its requirement
falls by at most ``k * q``, ``k < 1``, as long as no scenario loses more than
the whole price). Collateral on the same underlying keeps that so for a long
(its value, floored, never rises as the price falls) and for a short as long
as its haircut value moves by less than ``|q|`` a tick (net short), or by more
(net long: the check then holds above the mark and flips once below it).
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
)
from clearing.state import MarginCall
from clearing.units import MAX_UINT64

PRICE_CAP = MAX_UINT64  # the largest price a feed may report (the oracle's bound)
ArraysAt = Callable[[str, int], RiskArrays]
"""The risk arrays the engine builds with one instrument marked at another price."""
WeightsAt = Callable[[str, int], Mapping[CollateralKey, int]]
"""Value per quantum of the collateral priced on one instrument's underlying, with that
instrument marked at another price (the other tokens do not move)."""


@dataclass(frozen=True, slots=True)
class Revaluation:
    """How the engine revalues a sub-account when one instrument's mark moves."""

    arrays_at: ArraysAt
    weights_at: WeightsAt


@dataclass(frozen=True, slots=True)
class AccountRisk:
    equity: int
    initial_margin: int
    maintenance_margin: int
    free_collateral: int  # equity - IM: what may be withdrawn or used (negative: none)
    liquidation_prices: tuple[tuple[str, int | None], ...]  # by instrument id (if asked)


def get_account_risk(
    cash: int,
    collateral: Mapping[CollateralKey, int],
    weights: Mapping[CollateralKey, int],
    positions: Mapping[str, int],
    marks: Mapping[str, int],
    arrays: RiskArrays,
    k_num: int,
    k_den: int,
    revaluation: Revaluation | None,
) -> AccountRisk:
    """The figures of one sub-account; liquidation prices only given ``revaluation`` (their
    search rebuilds the arrays a few times per position: a scan of many accounts skips it)."""
    equity = compute_equity(cash, collateral, weights)
    im = compute_initial_margin(compute_scenario_losses(positions, arrays))
    prices = tuple(
        (
            iid,
            get_liquidation_price(
                cash, collateral, weights, positions, marks, iid, k_num, k_den, revaluation
            ),
        )
        for iid, q in sorted(positions.items())
        if q and revaluation is not None
    )
    mm = compute_maintenance_margin(im, k_num, k_den)
    return AccountRisk(equity, im, mm, equity - im, prices)


def get_liquidation_price(
    cash: int,
    collateral: Mapping[CollateralKey, int],
    weights: Mapping[CollateralKey, int],
    positions: Mapping[str, int],
    marks: Mapping[str, int],
    instrument_id: str,
    k_num: int,
    k_den: int,
    revaluation: Revaluation,
) -> int | None:
    """Where the engine's maintenance check flips when this instrument's mark moves, and
    the collateral priced on its underlying with it."""
    quantity, mark = positions[instrument_id], marks[instrument_id]

    def slack_at(price: int) -> int:
        """``k_den * equity - k_num * IM`` at ``price``: >= 0 iff ``is_maintenance_met``."""
        losses = compute_scenario_losses(positions, revaluation.arrays_at(instrument_id, price))
        moved = {**weights, **revaluation.weights_at(instrument_id, price)}
        equity = compute_equity(cash, collateral, moved) + quantity * (price - mark)
        return k_den * equity - k_num * compute_initial_margin(losses)

    price = compute_liquidation_price(quantity, mark, slack_at)
    if (
        price is None
        and quantity < 0
        and is_backed_by_underlying(collateral, revaluation.weights_at(instrument_id, mark))
    ):
        return compute_liquidation_price(-quantity, mark, slack_at)  # net long: it loses below
    return price


def is_backed_by_underlying(
    collateral: Mapping[CollateralKey, int], following: Mapping[CollateralKey, int]
) -> bool:
    """Whether any collateral held is priced on the instrument's underlying."""
    return any(collateral.get(key, 0) > 0 for key in following)


def compute_liquidation_price(
    quantity: int, mark: int, slack_at: Callable[[int], int]
) -> int | None:
    """The failing price (``slack_at < 0``) next to a holding one, on the position's losing side.

    Long: in [1, mark], the price above it holding; short: in [mark, PRICE_CAP],
    the price below it holding, bracketed by doubling from the mark first (a
    short's price is seldom far above it). ``mark`` itself when already failing.
    """
    if quantity == 0:
        return None
    at_mark = slack_at(mark)
    if at_mark < 0:
        return mark
    if quantity > 0:
        at_one = slack_at(1)
        return None if at_one >= 0 else find_boundary(1, at_one, mark, at_mark, slack_at)
    low, at_low, high = mark, at_mark, min(2 * mark, PRICE_CAP)  # holds at low
    at_high = slack_at(high)
    while at_high >= 0:
        if high == PRICE_CAP:
            return None
        low, at_low, high = high, at_high, min(2 * high, PRICE_CAP)
        at_high = slack_at(high)
    return find_boundary(high, at_high, low, at_low, slack_at)


def find_boundary(
    fail: int, at_fail: int, hold: int, at_hold: int, slack_at: Callable[[int], int]
) -> int:
    """The failing price next to a holding one between ``fail`` (slack < 0) and ``hold``.

    Each step keeps a failing and a holding end. It tries where a straight line
    through the two ends' slacks crosses zero (the Illinois variant of false
    position: an end kept twice has its slack halved), which lands next to the
    boundary in a step or two for a slack that is nearly linear in the price
    (one future or perpetual); after two steps that do not halve the bracket it
    bisects, so it needs at most about three times as many evaluations as
    plain bisection on any slack.
    """
    kept, slow = 0, 0  # the end kept last (+1 fail, -1 hold); steps in a row not halving
    while abs(hold - fail) > 1:
        span = hold - fail
        bisect = slow >= 2
        guess = fail + span // 2 if bisect else fail + span * -at_fail // (at_hold - at_fail)
        low, high = sorted((fail, hold))
        guess = min(max(guess, low + 1), high - 1)
        slack = slack_at(guess)
        if slack < 0:
            fail, at_fail = guess, slack
            at_hold, kept = (at_hold // 2 if kept == -1 else at_hold), -1
        else:
            hold, at_hold = guess, slack
            at_fail, kept = (-max(1, -at_fail // 2) if kept == 1 else at_fail), 1
        slow = 0 if bisect or 2 * abs(hold - fail) <= abs(span) + 1 else slow + 1
    return fail


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
