"""Halting an instrument, making it reduce-only, or resuming it: emergency measures,
executed as soon as they pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.errors import UnknownInstrument
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import ChangeNotAllowed
from clearing.instruments import InstrumentStatus
from clearing.state import ClearingState
from lightclient.records import Choice, Declared, Name


@declare_change
@dataclass(frozen=True, slots=True)
class SetInstrumentStatus(Declared):
    NAME: ClassVar[str] = "set_instrument_status"
    EMERGENCY: ClassVar[bool] = True
    instrument_id: Name
    status: Annotated[InstrumentStatus, Choice()]

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A listed, unexpired instrument, to a status it does not have."""
        instrument = draft.instruments.get(self.instrument_id)
        if instrument is None:
            raise UnknownInstrument(self.instrument_id)
        if instrument.is_expired_at(state.time_ms) or self.instrument_id in (
            state.final_settlement_prices
        ):
            raise ChangeNotAllowed(self.instrument_id, "expired or settled")
        current = draft.statuses.get(self.instrument_id, InstrumentStatus.ACTIVE)
        if current is self.status:
            raise ChangeNotAllowed(self.instrument_id, f"already {current.value}")
        if self.status is InstrumentStatus.ACTIVE:
            del draft.statuses[self.instrument_id]
        else:
            draft.statuses[self.instrument_id] = self.status
