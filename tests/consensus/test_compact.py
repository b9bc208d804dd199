"""Compact proposals: the ids of held transactions, the rest in full; rebuilt byte for
byte from what a node holds, with the proposer's signature unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.compact import CompactProposal, MissingTxs, compute_tx_hash, make_compact
from consensus.messages import decode_message, encode_message
from consensus.types import Proposal
from records.codec import DecodeError
from tests.consensus.helpers import CHAIN, KEYS, VALIDATORS, make_block, signed_proposal

TXS = st.lists(st.binary(min_size=0, max_size=64), max_size=12)


def proposal_of(txs: list[bytes]) -> Proposal:
    return signed_proposal(0, make_block(tuple(txs), VALIDATORS.get_proposer(0).public_key))


@given(TXS, st.data())
def test_a_compact_proposal_rebuilds_the_proposal_from_what_is_held(
    txs: list[bytes], data: st.DataObject
) -> None:
    proposal = proposal_of(txs)
    held = {compute_tx_hash(tx): tx for tx in txs if data.draw(st.booleans())}
    compact = make_compact(proposal, lambda tx_id: tx_id in held)
    decoded = decode_message(encode_message(compact))
    assert decoded == compact and isinstance(decoded, CompactProposal)
    assert decoded.assemble(held.get) == proposal
    assert decoded.is_signed_by_proposer(CHAIN)
    assert decoded.get_missing(held.get) == ()
    assert len(compact.prefilled) == sum(1 for tx in txs if compute_tx_hash(tx) not in held)


@given(TXS.filter(bool), st.data())
def test_a_node_lacking_transactions_is_told_exactly_which(
    txs: list[bytes], data: st.DataObject
) -> None:
    proposal = proposal_of(txs)
    compact = make_compact(proposal, lambda tx_id: True)
    held = {compute_tx_hash(tx): tx for tx in txs if data.draw(st.booleans())}
    lacking = tuple(
        dict.fromkeys(compute_tx_hash(tx) for tx in txs if compute_tx_hash(tx) not in held)
    )
    assert compact.get_missing(held.get) == lacking
    if lacking:
        with pytest.raises(MissingTxs) as missing:
            compact.assemble(held.get)
        assert missing.value.tx_ids == lacking
    else:
        assert compact.assemble(held.get) == proposal


def test_a_compact_proposal_is_far_smaller_than_its_block() -> None:
    txs = [bytes([i]) * 16_000 for i in range(20)]
    proposal = proposal_of(txs)
    compact = make_compact(proposal, lambda tx_id: True)
    assert len(encode_message(compact)) < 2_000 < 320_000 < len(encode_message(proposal))


def test_a_forged_or_foreign_signature_does_not_check() -> None:
    compact = make_compact(proposal_of([b"x"]), lambda tx_id: True)
    assert not replace(compact, round=1).is_signed_by_proposer(CHAIN)
    assert not replace(compact, proposer=KEYS[3].public_key).is_signed_by_proposer(CHAIN)
    assert not compact.is_signed_by_proposer("another-chain")


def test_prefilled_transactions_must_fill_the_places_left_for_them() -> None:
    compact = make_compact(proposal_of([b"x", b"y"]), lambda tx_id: False)
    wire = compact.to_fields()
    wire[6] = wire[6][:1]  # two places, one transaction
    with pytest.raises(DecodeError, match="1 prefilled transactions for 2 places"):
        CompactProposal.from_fields(wire)
    wire = compact.to_fields()
    wire[5] = [b"short", None]
    with pytest.raises(DecodeError):
        CompactProposal.from_fields(wire)
