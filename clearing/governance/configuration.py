"""The governed configuration as the state root and snapshots carry it: the instruments
(in listing order, each as its genesis entry), the venues, the risk section in force,
the external bridges, the listing templates, the fee split, the collateral tokens'
haircuts, the instruments' statuses and the proposals. Its governed sections are also a
leaf of the root of their own (``encode_configuration``), which a report carries so that
a verifier recomputes the statement from the configuration in force at the report's
root, not the genesis's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from clearing.assets import CollateralKey, CollateralToken
from clearing.derived import DerivedKey
from clearing.errors import GenesisError
from clearing.genesis import ExternalBridge, Genesis, Venue
from clearing.governance.draft import Draft, install_configuration
from clearing.governance_documents import (
    MAX_DOCUMENT_DEPTH,
    decode_document,
    encode_document,
    get_nesting_depth,
)
from clearing.governance_proposal import GovernanceProposal
from clearing.instrument_docs import (
    get_instrument_doc,
    get_listing_template_doc,
    parse_instrument,
    parse_listing_template,
)
from clearing.instruments import Instrument, InstrumentKind, InstrumentStatus
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR
from records.codec import (
    DecodeError,
    expect_enum,
    expect_int,
    expect_list,
    expect_str,
)

CONFIGURATION_FIELDS = 10
CONFIGURATION_KEYS = ("collateral_haircuts", "external_bridges", "instruments",
                      "insurance_fund_bps", "listing_templates", "risk", "venues")  # fmt: skip
MAX_CONFIGURATION_BYTES = 4 * 1024 * 1024
"""About 13,000 instrument entries (some 300 bytes each); a report is fetched whole, so
this bounds what a forged one makes a verifier parse."""


def get_configuration_fields(state: ClearingState) -> list[object]:
    """What a snapshot carries of the configuration: its documents and the records."""
    return [*get_document_fields(state), *get_governance_records(state)]


def get_governance_records(state: ClearingState) -> list[object]:
    """The instruments' statuses and the proposals: what the root's records hash holds of
    governance (the documents enter the root by the configuration leaf)."""
    return [
        [[i, s.value] for i, s in sorted(state.instrument_status.items())],
        [p.get_record_fields() for _, p in sorted(state.proposals.items())],
        state.next_proposal_id,
    ]


@dataclass
class ConfigurationEncoding:
    """A configuration's encodings, kept with the state (``CONFIGURATION_ENCODING``,
    not in the root) until governance installs another: its bytes and their hash (the
    root's configuration leaf) and its document fields (what a snapshot carries)."""

    genesis: Genesis
    leaf: tuple[bytes, bytes] | None = None
    document_fields: list[object] | None = None


CONFIGURATION_ENCODING: DerivedKey[ConfigurationEncoding] = DerivedKey("configuration")


def get_configuration_encoding(state: ClearingState) -> ConfigurationEncoding:
    kept = state.derived.get(CONFIGURATION_ENCODING)
    if kept is None or kept.genesis is not state.genesis:
        kept = state.derived.keep(CONFIGURATION_ENCODING, ConfigurationEncoding(state.genesis))
    return kept


def get_document_fields(state: ClearingState) -> list[object]:
    """The instruments, venues, risk section, external bridges, listing templates, fee
    split and collateral haircuts of the configuration in force (the state's
    ``genesis``: ``state.instruments`` and ``state.venues`` index the same records),
    encoded once per configuration rather than at every snapshot."""
    kept = get_configuration_encoding(state)
    if kept.document_fields is None:
        genesis = state.genesis
        kept.document_fields = [
            [encode_document(get_instrument_doc(i)) for i in genesis.instruments],
            [v.to_fields() for v in genesis.venues],
            encode_document(genesis.risk),
            [b.to_fields() for b in genesis.external_bridges],
            [encode_document(get_listing_template_doc(t)) for t in genesis.listing_templates],
            genesis.fee_to_insurance_bps,
            [[t.chain_id, t.token, t.haircut_bps] for t in genesis.collateral],
        ]
    return kept.document_fields


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
    venues_by_id = {v.id: v for v in map(Venue.from_fields, expect_list(venues, "venues"))}
    external_bridges = {
        b.id: b for b in map(ExternalBridge.from_fields, expect_list(bridges, "external_bridges"))
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
        proposal = GovernanceProposal.from_record_fields(record, proposal_changes, state.chain_id)
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


def get_configuration_doc(config: Genesis) -> dict[str, Any]:
    """The governed sections of the configuration in force ``config`` (a
    ``state.genesis``), each in its genesis document's format; the fee split is the
    genesis's ``fees.insurance_fund_bps``."""
    return {
        "instruments": [get_instrument_doc(i) for i in config.instruments],
        "venues": [{"id": v.id, "pubkey": "0x" + v.pubkey.hex()} for v in config.venues],
        "risk": dict(config.risk),
        "external_bridges": [
            {"id": b.id, "pubkey": "0x" + b.pubkey.hex(), "chains": list(b.chains)}
            for b in config.external_bridges
        ],
        "listing_templates": [get_listing_template_doc(t) for t in config.listing_templates],
        "insurance_fund_bps": config.fee_to_insurance_bps,
        "collateral_haircuts": [
            [t.chain_id, "0x" + t.token.hex(), t.haircut_bps] for t in config.collateral
        ],
    }


def encode_configuration(config: Genesis) -> bytes:
    """The canonical bytes of ``get_configuration_doc``: JSON with sorted keys and no
    spaces (integers and strings only, as the genesis parsers read them), which a
    verifier hashes and parses as given, never re-encodes (the root encodes them once
    per configuration: ``clearing.transition.root.get_configuration_leaf``)."""
    return encode_document(get_configuration_doc(config)).encode()


def decode_configuration_doc(data: bytes) -> dict[str, Any]:
    """The document of ``encode_configuration``'s bytes, bounded before it is parsed;
    ``GenesisError`` naming what is wrong (its sections are the genesis parsers'
    business: ``apply_configuration``)."""
    if len(data) > MAX_CONFIGURATION_BYTES:
        raise GenesisError("configuration", f"at most {MAX_CONFIGURATION_BYTES} bytes",
                           len(data))  # fmt: skip
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise GenesisError("configuration", "UTF-8 text", None) from None
    depth = get_nesting_depth(text)
    if depth > MAX_DOCUMENT_DEPTH:
        raise GenesisError("configuration", f"nested at most {MAX_DOCUMENT_DEPTH} deep", depth)
    try:
        doc = json.loads(text)
    except ValueError:
        raise GenesisError("configuration", "JSON", None) from None
    if not isinstance(doc, dict) or sorted(doc) != list(CONFIGURATION_KEYS):
        got = sorted(doc) if isinstance(doc, dict) else None
        raise GenesisError("configuration", f"an object with keys {list(CONFIGURATION_KEYS)}",
                           got)  # fmt: skip
    return doc


def apply_configuration(genesis: Genesis, data: bytes) -> Genesis:
    """``genesis`` with the instruments, the risk section and the collateral haircuts of
    the configuration ``data`` (``encode_configuration``'s bytes) in force: what a
    verifier recomputes a report's statement from (the other sections are proven with
    them, and no check of a report reads them). Validated as the genesis validates them,
    in its order (``GenesisError`` keyed as in a genesis document), so that the browser
    verifier (web/verifier/src/configuration.ts) says the same of the same bytes."""
    doc = decode_configuration_doc(data)
    instruments = tuple(
        parse_instrument(item, f"instruments[{n}]")
        for n, item in enumerate(_expect_list(doc, "instruments"))
    )
    risk = doc["risk"]
    if not isinstance(risk, dict):
        raise GenesisError("risk", "an object with string keys", risk)
    by_id: dict[str, Instrument] = {}
    for n, instrument in enumerate(instruments):
        if instrument.id in by_id:
            raise GenesisError(f"instruments[{n}]", "a unique id", instrument.id)
        by_id[instrument.id] = instrument
    for n, instrument in enumerate(instruments):
        future = by_id.get(instrument.underlying)
        if instrument.kind is InstrumentKind.OPTION and (
            future is None or future.kind is not InstrumentKind.FUTURE
        ):
            raise GenesisError(f"instruments[{n}].underlying", "a listed future",
                               instrument.underlying)  # fmt: skip
    collateral = apply_haircuts(genesis, doc["collateral_haircuts"])
    return replace(genesis, instruments=instruments, risk=risk, collateral=collateral)


def apply_haircuts(genesis: Genesis, haircuts: object) -> tuple[CollateralToken, ...]:
    """The genesis's collateral tokens with the configuration's haircuts: one entry
    ``[chain_id, token, haircut_bps]`` per token, in the genesis's order (governance
    changes haircuts, never the tokens); as the browser verifier checks them."""
    count = len(genesis.collateral)
    if not isinstance(haircuts, list) or len(haircuts) != count:
        raise GenesisError("collateral_haircuts", f"a list of {count} entries", None)
    tokens = []
    for n, (token, entry) in enumerate(zip(genesis.collateral, haircuts, strict=True)):
        path = f"collateral_haircuts[{n}]"
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or type(entry[0]) is not int
            or entry[0] != token.chain_id
            or entry[1] != "0x" + token.token.hex()
        ):
            raise GenesisError(path, "[chain_id, token, haircut_bps] of the genesis's token", None)
        haircut = entry[2]
        if type(haircut) is not int or not 0 <= haircut < BPS_DENOMINATOR:
            raise GenesisError(path, f"a haircut_bps in [0, {BPS_DENOMINATOR - 1}]", None)
        if haircut and token.key in genesis.settlement_asset.tokens:
            raise GenesisError(path, "haircut_bps 0 for a settlement token", None)
        tokens.append(replace(token, haircut_bps=haircut))
    return tuple(tokens)


def _expect_list(doc: Mapping[str, Any], key: str) -> list[Any]:
    items = doc[key]
    if not isinstance(items, list):
        raise GenesisError(key, "a list", items)
    return items
