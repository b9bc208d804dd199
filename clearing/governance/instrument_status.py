"""Halting an instrument, making it reduce-only, or resuming it: emergency measures,
executed as soon as they pass."""

from __future__ import annotations

from clearing.errors import UnknownInstrument
from clearing.governance.draft import Draft
from clearing.governance.errors import ChangeNotAllowed
from clearing.governance_changes import SetInstrumentStatus
from clearing.instruments import InstrumentStatus
from clearing.state import ClearingState


def apply_set_instrument_status(
    change: SetInstrumentStatus, draft: Draft, state: ClearingState
) -> None:
    """A listed, unexpired instrument, to a status it does not have."""
    instrument = draft.instruments.get(change.instrument_id)
    if instrument is None:
        raise UnknownInstrument(change.instrument_id)
    if instrument.is_expired_at(state.time_ms) or change.instrument_id in (
        state.final_settlement_prices
    ):
        raise ChangeNotAllowed(change.instrument_id, "expired or settled")
    current = draft.statuses.get(change.instrument_id, InstrumentStatus.ACTIVE)
    if current is change.status:
        raise ChangeNotAllowed(change.instrument_id, f"already {current.value}")
    if change.status is InstrumentStatus.ACTIVE:
        del draft.statuses[change.instrument_id]
    else:
        draft.statuses[change.instrument_id] = change.status
