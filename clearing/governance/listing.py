"""Listing a new instrument: a genesis instrument entry plus its starting mark price."""

from __future__ import annotations

from clearing.governance.draft import Draft
from clearing.governance.errors import (
    ExpiryPassed,
    FeedNotPriced,
    InstrumentListed,
    UnderlyingNotFuture,
)
from clearing.governance_changes import ListInstrument
from clearing.instruments import InstrumentKind
from clearing.state import ClearingState


def apply_list_instrument(change: ListInstrument, draft: Draft, state: ClearingState) -> None:
    """An id not in the configuration (a pruned one is a new contract), on a feed the
    validators price, not expired; an option on a listed future."""
    instrument = change.get_instrument()
    if instrument.id in draft.instruments:
        raise InstrumentListed(instrument.id)
    if instrument.index_feed not in state.index_prices:
        raise FeedNotPriced(instrument.id, instrument.index_feed)
    if instrument.expiry_ms is not None and instrument.is_expired_at(state.time_ms):
        raise ExpiryPassed(instrument.id, instrument.expiry_ms, state.time_ms)
    if instrument.kind is InstrumentKind.OPTION:
        future = draft.instruments.get(instrument.underlying)
        if (
            future is None
            or future.kind is not InstrumentKind.FUTURE
            or future.is_expired_at(state.time_ms)
        ):
            raise UnderlyingNotFuture(instrument.id, instrument.underlying)
    draft.instruments[instrument.id] = instrument
    draft.listed[instrument.id] = change.mark_price
