"""Delisting a perpetual by final settlement at a stated price: a delayed change
(members see the price and the height coming, and may close before); every position
is paid its variation margin to that price and closed, as at a future's expiry."""

from __future__ import annotations

from clearing.errors import UnknownInstrument
from clearing.governance.draft import Draft
from clearing.governance.errors import ChangeNotAllowed
from clearing.governance_changes import SettlePerpetual
from clearing.state import ClearingState


def apply_settle_perpetual(change: SettlePerpetual, draft: Draft, state: ClearingState) -> None:
    """A listed perpetual not yet settled (futures and options settle at expiry)."""
    instrument = draft.instruments.get(change.instrument_id)
    if instrument is None:
        raise UnknownInstrument(change.instrument_id)
    if not instrument.is_perpetual():
        raise ChangeNotAllowed(change.instrument_id, f"a {instrument.kind.value} settles at expiry")
    if (
        change.instrument_id in state.final_settlement_prices
        or change.instrument_id in draft.settlements
    ):
        raise ChangeNotAllowed(change.instrument_id, "already settled")
    draft.settlements[change.instrument_id] = change.price
