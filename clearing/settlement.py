"""Variation margin: settling open positions to the mark price, into cash.

Every open position carries the price it was last settled at. At the end of
each block ``process_mark_to_market`` moves each one to the instrument's
current mark, crediting ``quantity * (mark - settlement_price)`` to cash, and
records the mark as the new settlement price (a flat record is left alone: it
reopens at the mark of the day). A trade's new lots enter at the
position's settlement price, with the difference to the trade price settled
at once (``compute_variation_margin(fill, trade_price, settlement_price)``):
the CME convention "trade price to settlement price, then settlement to
settlement" (Money Calculations for CME-cleared Futures and Options, 2015).

Rounding: none. A ``Price`` is settlement base units per lot
(``units.PRICE_SCALE == 1``), so every amount here is an exact integer. The
clearing house is flat (the lots of an instrument sum to zero) and, once all
of an instrument's positions share one settlement price, the credits of one
settlement sum to exactly zero: nobody is paid a unit that somebody else did
not pay. (tests/clearing/test_properties_trading.py checks this.)
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.state import ClearingState

__all__ = ["compute_variation_margin", "process_mark_to_market"]


def compute_variation_margin(quantity: int, from_price: int, to_price: int) -> int:
    """Cash owed to the holder of `quantity` lots when the price moves (exact)."""
    return quantity * (to_price - from_price)


def process_mark_to_market(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """Settle every open position from its settlement price to the current mark.

    Emits one ``variation_margin`` event per instrument that moved, with the
    mark and the total paid by the losing side (== total received).
    """
    marks = state.mark_prices
    paid: dict[str, int] = {}
    for address, member in state.members.items():
        for account in member.sub_accounts.values():
            for instrument_id, position in account.positions.items():
                mark = marks[instrument_id]
                if position.settlement_price == mark or not position.quantity:
                    continue
                amount = compute_variation_margin(
                    position.quantity, position.settlement_price, mark
                )
                account.cash += amount
                position.settlement_price = mark
                state.dirty.add(address)
                if amount < 0:
                    paid[instrument_id] = paid.get(instrument_id, 0) - amount
                else:
                    paid.setdefault(instrument_id, 0)
    return [
        make_event("variation_margin", instrument=i, mark_price=marks[i], paid=paid[i])
        for i in sorted(paid)
    ]
