"""Delisting a perpetual by final settlement at a stated price: a delayed change
(members see the price and the height coming, and may close before); every position
is paid its variation margin to that price and closed, as at a future's expiry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.errors import UnknownInstrument
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import ChangeNotAllowed
from clearing.state import ClearingState
from lightclient.records import Declared, Int, Name


@declare_change
@dataclass(frozen=True, slots=True)
class SettlePerpetual(Declared):
    NAME: ClassVar[str] = "settle_perpetual"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: Name
    price: Annotated[int, Int(1)]  # the final settlement price (``Price``)

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A listed perpetual not yet settled (futures and options settle at expiry)."""
        instrument = draft.instruments.get(self.instrument_id)
        if instrument is None:
            raise UnknownInstrument(self.instrument_id)
        if not instrument.is_perpetual():
            raise ChangeNotAllowed(
                self.instrument_id, f"a {instrument.kind.value} settles at expiry"
            )
        if (
            self.instrument_id in state.final_settlement_prices
            or self.instrument_id in draft.settlements
        ):
            raise ChangeNotAllowed(self.instrument_id, "already settled")
        draft.settlements[self.instrument_id] = self.price
