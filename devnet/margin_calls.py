"""The devnet's two called longs: sized from the genesis so that the scheduled crash
leaves each between maintenance and initial margin, whatever the price path did.

A long of q lots of a perpetual at mark p, with equity E in its own sub-account,
after a crash to p' = p * (BPS - CRASH_BPS) / BPS has equity E - q (p - p') and
requirement IM' = q im', im' the engine's margin of one lot at p'. Sizing q for
equity midway between MM' = IM' k_num / k_den and IM' leaves a quarter of IM' (the
band's half width, ~0.9% of the notional) for what is not known in advance: the
price path moves the mark before the crash and until the call's deadline, at most
0.1% of the start per 2 s oracle step, and funding accrues.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.risk.engine import get_moved_risk_arrays, get_risk_arrays, get_risk_setup
from clearing.risk.margin import (
    compute_initial_margin,
    compute_maintenance_margin,
    compute_scenario_losses,
)
from clearing.state import ClearingState, SubAccount, get_account_equity
from clearing.units import BPS_DENOMINATOR, apply_bps_ceil, div_ceil
from devnet.sections import CRASH_BPS


@dataclass(frozen=True)
class CrashMargin:
    """A sub-account's figures at the crashed marks."""

    equity: int
    maintenance_margin: int
    initial_margin: int

    def is_called(self) -> bool:
        """Between maintenance and initial margin: a margin call, not a liquidation."""
        return self.maintenance_margin <= self.equity < self.initial_margin


def get_crashed_price(price: int) -> int:
    """The oracle simulator's shock applied to `price` (node/oracle/sources.py)."""
    return max(1, price * (BPS_DENOMINATOR - CRASH_BPS) // BPS_DENOMINATOR)


def get_crash_margin(
    state: ClearingState, account: SubAccount, instrument_id: str, lots: int = 0
) -> CrashMargin:
    """Equity, MM and IM of `account` plus `lots` more of `instrument_id` bought at the
    mark, with that instrument's mark crashed (its other positions kept at their marks)."""
    setup = get_risk_setup(state)
    assert setup is not None  # the devnet's genesis has a risk section
    held = {iid: p.quantity for iid, p in account.positions.items()}
    held[instrument_id] = held.get(instrument_id, 0) + lots
    mark = state.mark_prices[instrument_id]
    crashed = get_crashed_price(mark)
    arrays = get_moved_risk_arrays(
        state, setup, get_risk_arrays(state, setup), held, instrument_id, crashed
    )
    im = compute_initial_margin(compute_scenario_losses(held, arrays))
    equity = get_account_equity(state, account) + held[instrument_id] * (crashed - mark)
    mm = compute_maintenance_margin(im, setup.params.k_num, setup.params.k_den)
    return CrashMargin(equity, mm, im)


def get_called_long_lots(state: ClearingState, account: SubAccount, instrument_id: str) -> int:
    """Lots of `instrument_id` that a flat `account` buys at the mark so that the crash
    leaves its equity midway between maintenance and initial margin:
    E - q (p - p') - fee = q im' (k_num + k_den) / (2 k_den)."""
    setup = get_risk_setup(state)
    assert setup is not None
    k_num, k_den = setup.params.k_num, setup.params.k_den
    mark = state.mark_prices[instrument_id]
    per_lot = get_crash_margin(state, SubAccount(), instrument_id, 1).initial_margin
    fee = apply_bps_ceil(mark, state.instruments[instrument_id].fee_bps)
    loss = mark - get_crashed_price(mark) + fee
    equity = get_account_equity(state, account)
    return 2 * k_den * equity // (2 * k_den * loss + (k_num + k_den) * per_lot)


def get_meeting_lots(quantity: int, amount_due: int, initial_margin: int) -> int:
    """Lots a called long sells to meet its call: selling a fraction f of a position
    lowers IM by f IM and equity only by the fee, so f = 2 * due / IM leaves equity
    (IM - due) above the new IM (IM - 2 due) by `due` less the fee."""
    if initial_margin <= 0:
        return quantity
    return min(quantity, div_ceil(2 * amount_due * quantity, initial_margin))
