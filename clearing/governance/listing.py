"""Listing a new instrument: a genesis instrument entry plus its starting mark price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from clearing.errors import GenesisError
from clearing.genesis import parse_instrument
from clearing.governance.documents import decode_document, encode_document, expect_document_text
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import (
    ExpiryPassed,
    FeedNotPriced,
    InstrumentListed,
    InvalidInstrument,
    UnderlyingNotFuture,
)
from clearing.instruments import Instrument, InstrumentKind
from clearing.state import ClearingState
from lightclient.records import Checked, Declared, Int


@declare_change
@dataclass(frozen=True, slots=True)
class ListInstrument(Declared):
    """``instrument`` is the JSON text of a genesis ``instruments`` entry; ``mark_price``
    its starting mark (the genesis prices every instrument it lists, too)."""

    NAME: ClassVar[str] = "list_instrument"
    EMERGENCY: ClassVar[bool] = False
    instrument: Annotated[str, Checked(expect_document_text)]  # the genesis entry, JSON
    mark_price: Annotated[int, Int(1)]

    def get_instrument(self) -> Instrument:
        try:
            return parse_instrument(decode_document(self.instrument, "instrument"), "instrument")
        except GenesisError as error:
            raise InvalidInstrument(error.key, error.expected, error.got) from None

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """An id not in the configuration (a pruned one is a new contract), on a feed the
        validators price, not expired; an option on a listed future."""
        instrument = self.get_instrument()
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
        draft.listed[instrument.id] = self.mark_price


def make_listing(doc: dict[str, Any], mark_price: int) -> ListInstrument:
    """A listing of the genesis entry ``doc`` (operators' tools and tests)."""
    return ListInstrument(encode_document(doc), mark_price)
