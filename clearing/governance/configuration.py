"""The governed configuration as the state root and snapshots carry it: the instruments
(in listing order, each as its genesis entry), the venues, the risk section in force,
the instruments' statuses and the proposals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearing.codec import expect_bytes, expect_int, expect_list, expect_str
from clearing.errors import DecodeError, GenesisError
from clearing.genesis import Venue, get_instrument_doc, parse_instrument
from clearing.governance.documents import decode_document, encode_document
from clearing.governance.proposal import Proposal
from clearing.instruments import InstrumentStatus
from clearing.state import ClearingState

CONFIGURATION_FIELDS = 6


def get_configuration_fields(state: ClearingState) -> list[object]:
    return [
        [encode_document(get_instrument_doc(i)) for i in state.instruments.values()],
        [[v.id, v.pubkey] for v in state.venues.values()],
        encode_document(state.genesis.risk),
        [[i, s.value] for i, s in sorted(state.instrument_status.items())],
        [p.to_fields() for _, p in sorted(state.proposals.items())],
        state.next_proposal_id,
    ]


def decode_configuration(state: ClearingState, fields: list[Any]) -> None:
    """Restore the governed configuration on a state initialised from the genesis
    document; every entry validated as the genesis validates it (``DecodeError``)."""
    texts, venues, risk, statuses, proposals, next_id = fields
    instruments = {}
    for n, text in enumerate(expect_list(texts, "instruments")):
        try:
            instrument = parse_instrument(decode_document(text, "instrument"), f"instruments[{n}]")
        except GenesisError as error:
            raise DecodeError("instruments", str(error)) from None
        instruments[instrument.id] = instrument
    by_id = {}
    for item in expect_list(venues, "venues"):
        venue_id, pubkey = expect_list(item, "venue", 2)
        by_id[expect_str(venue_id, "venue")] = Venue(venue_id, expect_bytes(pubkey, "pubkey", 32))
    state.instrument_status = {}
    for item in expect_list(statuses, "instrument_status"):
        instrument_id, status = expect_list(item, "instrument_status", 2)
        try:
            state.instrument_status[expect_str(instrument_id, "instrument")] = InstrumentStatus(
                expect_str(status, "status")
            )
        except ValueError:
            raise DecodeError("status", f"{status!r} is not an instrument status") from None
    for item in expect_list(proposals, "proposals"):
        proposal = Proposal.from_fields(item)
        state.proposals[proposal.id] = proposal
    state.next_proposal_id = expect_int(next_id, "next_proposal_id", 1)
    section = decode_document(risk, "risk")
    if (
        tuple(instruments.values()) != state.genesis.instruments
        or tuple(by_id.values()) != state.genesis.venues
        or section != state.genesis.risk
    ):
        state.instruments, state.venues = instruments, by_id
        state.genesis = replace(
            state.genesis,
            instruments=tuple(instruments.values()),
            venues=tuple(by_id.values()),
            risk=section,
        )
