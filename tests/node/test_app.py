"""The clearing application: same blocks give the same roots; bad proposals are refused."""

from __future__ import annotations

from dataclasses import replace

from clearing.genesis import parse_genesis
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from consensus.types import (
    Block,
    BlockHeader,
    DuplicateVoteEvidence,
    Vote,
    Voter,
    VoteType,
    compute_txs_hash,
)
from node.clearing_app import MAX_BLOCK_TXS, ClearingApp, compute_proposal_error
from tests.clearing.support import USDC, genesis_doc, new_sandbox

GENESIS_MS = 1_795_219_200_000


def blocks() -> list[list[bytes]]:
    box = new_sandbox()
    alice, bob = derive_member_key("alice"), derive_member_key("bob")
    venue = derive_ed25519_key("venue-alpha")
    trade = Trade(1, "BTC-PERP", alice.address, 0, bob.address, 0, 60_000_000, 1)
    return [
        [encode_tx(box.credit(m.address, USDC, 10_000_000)) for m in (alice, bob)]
        + [encode_tx(box.authorise(m, "alpha")) for m in (alice, bob)],
        [encode_tx(sign_trade_batch(venue, box.chain_id, "alpha", 1, (trade,), *box.get_times()))],
        [],
    ]


def make_block(height: int, txs: list[bytes]) -> Block:
    header = BlockHeader(
        "test",
        height,
        GENESIS_MS + 1000 * height,
        bytes(32),
        b"",
        compute_txs_hash(tuple(txs)),
        bytes(32),
    )
    return Block(header, tuple(txs), None)


def test_two_apps_agree_on_every_root() -> None:
    one, two = (ClearingApp(parse_genesis(genesis_doc())) for _ in range(2))
    for height, txs in enumerate(blocks(), start=1):
        block = make_block(height, txs)
        assert one.process_proposal(block)
        assert one.finalize_block(block) == two.finalize_block(block)
        assert one.last_result is not None
        assert all(r.is_ok() for r in one.last_result.tx_results), one.last_result.tx_results
    assert one.height == 3


def test_proposal_that_cannot_be_a_block_is_refused_without_change() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    root = app.last_root
    assert not app.process_proposal(make_block(1, [blocks()[0][0], b"\x93\x01\x02"]))
    assert "transaction 1" in (compute_proposal_error([blocks()[0][0], b"\x93\x01"]) or "")
    assert "exceed" in (compute_proposal_error([b""] * (MAX_BLOCK_TXS + 1)) or "")
    assert compute_proposal_error([b"garbage"]) is not None
    assert compute_proposal_error([blocks()[1][0]]) is None
    assert (app.height, app.last_root) == (0, root)


def test_prepare_proposal_keeps_mempool_order() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    assert app.prepare_proposal(1, GENESIS_MS, [b"a", b"b", b"c"]) == [b"a", b"b", b"c"]


def equivocating_block(app: ClearingApp, validator: int) -> Block:
    """Block 1 committing evidence (consensus verified it; clearing reads the key and
    height only) that genesis validator `validator` equivocated at height 1."""
    key = app.genesis.validators[validator].pubkey
    votes = [
        Vote(VoteType.PREVOTE, 1, 0, block_hash, key, bytes([n]) * 64)
        for n, block_hash in enumerate((b"\x01" * 32, b"\x02" * 32))
    ]
    return replace(make_block(1, []), evidence=(DuplicateVoteEvidence.from_votes(*votes),))


def test_committed_evidence_jails_the_key_at_that_block() -> None:
    """The block's duplicate-vote evidence is clearing's input: its key is jailed."""
    app = ClearingApp(parse_genesis(genesis_doc()))
    key = app.genesis.validators[1].pubkey
    app.finalize_block(equivocating_block(app, 1))
    assert app.get_validator_update(1) == tuple(
        Voter(v.name, v.pubkey, v.power) for v in app.genesis.validators if v.pubkey != key
    )
    assert app.get_validator_update(2) is None
    assert app.state.validators[key].power == 0 and app.state.jailed[key].evidence_height == 1
    assert app.last_result is not None
    assert [e.kind for e in app.last_result.events] == ["validator_jailed"]
