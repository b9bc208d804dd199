"""The clearing application: same blocks give the same roots; bad proposals are typed errors."""

from __future__ import annotations

import pytest

from clearing.errors import DecodeError
from clearing.genesis import parse_genesis
from clearing.sandbox import derive_ed25519_key, derive_member_key
from clearing.trade import Trade, sign_trade_batch
from clearing.tx import encode_tx
from node.app import MAX_BLOCK_TXS, ClearingApp, ProposalRejected
from tests.clearing.support import USDC, genesis_doc, new_sandbox


def blocks() -> list[list[bytes]]:
    box = new_sandbox()
    alice, bob = derive_member_key("alice"), derive_member_key("bob")
    venue = derive_ed25519_key("venue-alpha")
    trade = Trade(1, "BTC-PERP", alice.address, 0, bob.address, 0, 60_000_000, 1)
    return [
        [encode_tx(box.credit(m.address, USDC, 10_000_000)) for m in (alice, bob)]
        + [encode_tx(box.authorise(m, "alpha")) for m in (alice, bob)],
        [encode_tx(sign_trade_batch(venue, box.chain_id, "alpha", 1, (trade,)))],
        [],
    ]


def test_two_apps_agree_on_every_root() -> None:
    one, two = (ClearingApp(parse_genesis(genesis_doc())) for _ in range(2))
    for height, txs in enumerate(blocks(), start=1):
        one.process_proposal(txs)
        a = one.finalize_block(height, 1_795_219_200_000 + 1000 * height, txs)
        b = two.finalize_block(height, 1_795_219_200_000 + 1000 * height, txs)
        assert a.state_root == b.state_root
        assert all(r.is_ok() for r in a.result.tx_results), a.result.tx_results
    assert one.height == 3


def test_proposal_that_cannot_be_a_block_is_rejected_without_change() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    root = app.last_root
    with pytest.raises(ProposalRejected, match="transaction 1"):
        app.process_proposal([blocks()[0][0], b"\x93\x01\x02"])
    with pytest.raises(ProposalRejected, match="exceed"):
        app.process_proposal([b""] * (MAX_BLOCK_TXS + 1))
    with pytest.raises(DecodeError):
        app.check_tx(b"garbage")
    assert (app.height, app.last_root) == (0, root)


def test_prepare_proposal_keeps_order_within_the_byte_limit() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    assert app.prepare_proposal([b"a" * 5, b"b" * 10, b"c" * 3], max_bytes=9) == [
        b"a" * 5,
        b"c" * 3,
    ]
