"""The governed configuration as the state root and snapshots carry it: the instruments
(in listing order, each as its genesis entry), the venues, the risk section in force,
the external bridges, the listing templates, the fee split, the collateral tokens'
haircuts, the instruments' statuses and the proposals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from clearing.assets import CollateralKey, CollateralToken
from clearing.codec import expect_bytes, expect_enum, expect_int, expect_list, expect_str
from clearing.errors import DecodeError, GenesisError
from clearing.genesis import (
    ExternalBridge,
    Genesis,
    Venue,
    get_instrument_doc,
    get_listing_template_doc,
    parse_external_bridge,
    parse_instrument,
    parse_listing_template,
)
from clearing.governance.documents import decode_document, encode_document
from clearing.governance.draft import Draft, install_configuration
from clearing.governance.proposal import Proposal
from clearing.instruments import InstrumentStatus
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR

CONFIGURATION_FIELDS = 10


def get_configuration_fields(state: ClearingState) -> list[object]:
    return [
        *get_document_fields(state.genesis),
        [[i, s.value] for i, s in sorted(state.instrument_status.items())],
        [p.get_record_fields() for _, p in sorted(state.proposals.items())],
        state.next_proposal_id,
    ]


_documents: tuple[Genesis, list[object]] | None = None


def get_document_fields(genesis: Genesis) -> list[object]:
    """The instruments, venues, risk section, external bridges, listing templates, fee
    split and collateral haircuts of the configuration in force (the state's
    ``genesis``: ``state.instruments`` and ``state.venues`` index the same records),
    encoded once per configuration rather than at every block's root."""
    global _documents
    if _documents is None or _documents[0] is not genesis:
        fields: list[object] = [
            [encode_document(get_instrument_doc(i)) for i in genesis.instruments],
            [[v.id, v.pubkey] for v in genesis.venues],
            encode_document(genesis.risk),
            [[b.id, b.pubkey, list(b.chains)] for b in genesis.external_bridges],
            [encode_document(get_listing_template_doc(t)) for t in genesis.listing_templates],
            genesis.fee_to_insurance_bps,
            [[t.chain_id, t.token, t.haircut_bps] for t in genesis.collateral],
        ]
        _documents = (genesis, fields)
    return _documents[1]


def get_proposal_changes(state: ClearingState) -> list[object]:
    """Each proposal's changes, which the root holds by the proposal's digest: a
    snapshot carries them."""
    return [[i, [c.to_fields() for c in p.changes]] for i, p in sorted(state.proposals.items())]


def decode_configuration(state: ClearingState, fields: list[Any], changes: object) -> None:
    """Restore the governed configuration on a state initialised from the genesis
    document; every entry validated as the genesis validates it, each proposal's
    changes against its digest (``DecodeError``)."""
    texts, venues, risk, bridges, template_texts, fee_split, haircuts, *rest = fields
    statuses, proposals, next_id = rest
    instruments = {}
    for n, text in enumerate(expect_list(texts, "instruments")):
        try:
            instrument = parse_instrument(decode_document(text, "instrument"), f"instruments[{n}]")
        except GenesisError as error:
            raise DecodeError("instruments", str(error)) from None
        instruments[instrument.id] = instrument
    templates = {}
    for n, text in enumerate(expect_list(template_texts, "listing_templates")):
        try:
            template = parse_listing_template(
                decode_document(text, "listing_template"), f"listing_templates[{n}]"
            )
        except GenesisError as error:
            raise DecodeError("listing_templates", str(error)) from None
        templates[template.id] = template
    venues_by_id = {}
    for item in expect_list(venues, "venues"):
        venue_id, pubkey = expect_list(item, "venue", 2)
        venues_by_id[expect_str(venue_id, "venue")] = Venue(
            venue_id, expect_bytes(pubkey, "pubkey", 32)
        )
    external_bridges = {
        b.id: b for b in map(decode_external_bridge, expect_list(bridges, "external_bridges"))
    }
    for item in expect_list(statuses, "instrument_status"):
        instrument_id, status = expect_list(item, "instrument_status", 2)
        state.instrument_status[expect_str(instrument_id, "instrument")] = expect_enum(
            InstrumentStatus, status, "status"
        )
    entries = [expect_list(item, "proposal_changes", 2) for item in expect_list(changes, "changes")]
    records = expect_list(proposals, "proposals")
    if len(entries) != len(records):
        raise DecodeError("changes", f"{len(entries)} entries for {len(records)} proposals")
    for record, (proposal_id, proposal_changes) in zip(records, entries, strict=True):
        proposal = Proposal.from_record_fields(record, proposal_changes, state.chain_id)
        if proposal_id != proposal.id:
            raise DecodeError("changes", f"entry {proposal_id!r} is not proposal {proposal.id}")
        state.proposals[proposal.id] = proposal
    state.next_proposal_id = expect_int(next_id, "next_proposal_id", 1)
    draft = Draft(
        instruments=instruments,
        venues=venues_by_id,
        risk=decode_document(risk, "risk"),
        statuses=state.instrument_status,
        external_bridges=external_bridges,
        templates=templates,
        fee_to_insurance_bps=expect_int(fee_split, "fee_to_insurance_bps", 0, BPS_DENOMINATOR),
        collateral=decode_haircuts(state, haircuts),
        validators=state.validators,  # restored by the snapshot's own section
        jailed=state.jailed,
    )
    if (
        tuple(instruments.values()) != state.genesis.instruments
        or tuple(venues_by_id.values()) != state.genesis.venues
        or draft.risk != state.genesis.risk
        or tuple(external_bridges.values()) != state.genesis.external_bridges
        or tuple(templates.values()) != state.genesis.listing_templates
        or draft.fee_to_insurance_bps != state.genesis.fee_to_insurance_bps
        or tuple(draft.collateral.values()) != state.genesis.collateral
    ):
        install_configuration(state, draft)


def decode_haircuts(state: ClearingState, haircuts: object) -> dict[CollateralKey, CollateralToken]:
    """The genesis's collateral tokens, in its order, each with the haircut in force (the
    tokens themselves are not governed: a snapshot naming others is corrupt)."""
    items = expect_list(haircuts, "collateral", len(state.genesis.collateral))
    tokens = {}
    for token, item in zip(state.genesis.collateral, items, strict=True):
        chain_id, address, haircut_bps = expect_list(item, "collateral", 3)
        if (chain_id, address) != token.key:
            raise DecodeError("collateral", f"entry {[chain_id, address]!r} is not {token.key!r}")
        haircut = expect_int(haircut_bps, "haircut_bps", 0, BPS_DENOMINATOR - 1)
        tokens[token.key] = replace(token, haircut_bps=haircut)
    return tokens


def decode_external_bridge(item: object) -> ExternalBridge:
    """Validated as the genesis validates an ``external_bridges`` entry."""
    bridge_id, pubkey, chains = expect_list(item, "external_bridge", 3)
    doc = {"id": bridge_id, "pubkey": "0x" + expect_bytes(pubkey, "pubkey", 32).hex()}
    try:
        bridge = parse_external_bridge({**doc, "chains": chains}, "external_bridge")
    except GenesisError as error:
        raise DecodeError("external_bridge", str(error)) from None
    if list(bridge.chains) != chains:
        raise DecodeError("external_bridge", f"chains {chains!r} are not sorted and distinct")
    return bridge


def get_configuration_document(
    doc: dict[str, Any], config: Genesis, marks: Mapping[str, int]
) -> dict[str, Any]:
    """The genesis document ``doc`` with the governed sections of the configuration in
    force ``config`` (a ``state.genesis``): what ``clearnode verify --genesis`` recomputes
    a report's statement with once governance or a listing template changed them (the
    report's market prices the instruments in force, not the genesis's). ``marks``
    gives a starting price to each instrument listed since (a genesis needs one; the
    statement reads the report's marks)."""
    starting = doc["mark_prices"]
    return {
        **doc,
        "instruments": [get_instrument_doc(i) for i in config.instruments],
        "mark_prices": {i.id: starting.get(i.id, marks.get(i.id, 1)) for i in config.instruments},
        "venues": [{"id": v.id, "pubkey": "0x" + v.pubkey.hex()} for v in config.venues],
        "risk": dict(config.risk),
        "external_bridges": [
            {"id": b.id, "pubkey": "0x" + b.pubkey.hex(), "chains": list(b.chains)}
            for b in config.external_bridges
        ],
        "listing_templates": [get_listing_template_doc(t) for t in config.listing_templates],
        "fees": {**doc.get("fees", {}), "insurance_fund_bps": config.fee_to_insurance_bps},
        "collateral": [
            {**entry, "haircut_bps": token.haircut_bps}
            for entry, token in zip(doc["collateral"], config.collateral, strict=True)
        ],
    }
