"""A block's result to its history rows: every named member gets its own side, in block
order; a store whose history is behind its blocks catches up from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.default.house import HOUSE
from clearing.events import make_event
from clearing.transition.block import BlockResult, TxResult
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from node.history.indexer import catch_up_history, get_block_history, make_fill
from node.storage import NodeStore, StorageError
from tests.node.netsupport import example_genesis, write_trading_chain
from tests.node.test_api import ALICE, BOB


def test_a_batch_s_cleared_trades_are_fills_of_both_sides_in_block_order() -> None:
    trades = tuple(
        Trade(n, "BTC-PERP", ALICE.address, 0, BOB.address, 2, 60_000_000, n) for n in (1, 2)
    )
    raw = encode_tx(
        sign_trade_batch(derive_ed25519_key("venue-alpha"), 1, "alpha", 7, trades, 1 << 40, 1 << 40)
    )
    rejected = make_event("trade_rejected", venue="alpha", trade_id=2, code="X", detail="")
    call = make_event("margin_call", member=BOB.address, sub_account=1, amount_due=7)
    result = BlockResult(4, (TxResult("ok", "", (rejected,)),), (call,), bytes(32))
    rows = get_block_history([raw], result).rows
    assert [(r.member, r.seq, r.source, r.index, r.event.kind) for r in rows] == [
        (ALICE.address, 0, "tx", 0, "fill"),
        (BOB.address, 1, "tx", 0, "fill"),
        (BOB.address, 3, "block", -1, "margin_call"),
    ]
    assert dict(rows[1].event.data) == {
        "member": BOB.address, "sub_account": 2, "side": "sell", "venue": "alpha",
        "trade_id": 1, "instrument": "BTC-PERP", "quantity": 1, "price": 60_000_000,
    }  # fmt: skip
    refused = BlockResult(4, (TxResult("BadSignature", "", ()),), (), bytes(32))
    assert get_block_history([raw], refused).rows == []
    # a block just applied carries its decoded batch: the raw bytes are not decoded again
    applied = TxResult("ok", "", (rejected,), decode_tx(raw))
    fresh = BlockResult(4, (applied,), (call,), bytes(32))
    assert get_block_history([b"not decoded"], fresh).rows == rows


@given(
    st.binary(min_size=20, max_size=20), st.integers(0, 255), st.sampled_from(["buy", "sell"]),
    st.text(max_size=8), st.integers(0, 2**70), st.text(max_size=12), st.integers(1, 2**64),
    st.integers(-(2**66), 2**66),
)  # fmt: skip
def test_a_fill_is_the_event_make_event_makes_of_its_fields(
    member: bytes, sub: int, side: str, venue: str, trade_id: int, instrument: str,
    quantity: int, price: int,
) -> None:  # fmt: skip
    assert make_fill(member, sub, side, venue, trade_id, instrument, quantity, price) == make_event(
        "fill", member=member, sub_account=sub, side=side, venue=venue, trade_id=trade_id,
        instrument=instrument, quantity=quantity, price=price,
    )  # fmt: skip


def test_each_party_reads_its_own_side_and_the_house_stays_named() -> None:
    taken = make_event("liquidated", member=ALICE.address, sub_account=0, quantity=5,
                       instrument="BTC-PERP", counterparty=BOB.address,
                       counterparty_sub_account=2)  # fmt: skip
    sold = make_event("collateral_sold", member=BOB.address, sub_account=0, quanta=4,
                      counterparty=HOUSE[0], counterparty_sub_account=0)  # fmt: skip
    rows = get_block_history((), BlockResult(1, (), (taken, sold), bytes(32))).rows
    (alices,) = [r for r in rows if r.member == ALICE.address]
    assert dict(alices.event.data) == {"member": ALICE.address, "sub_account": 0,
                                       "instrument": "BTC-PERP", "quantity": 5}  # fmt: skip
    bobs = [dict(r.event.data) for r in rows if r.member == BOB.address]
    assert bobs[0] == {"instrument": "BTC-PERP", "quantity": 5, "counterparty": BOB.address,
                       "counterparty_sub_account": 2}  # fmt: skip
    assert bobs[1]["counterparty"] == HOUSE[0]  # the clearing house is no member's secret
    assert len(rows) == 4  # and the house has its own row of the sale


def test_a_store_without_history_is_indexed_from_its_blocks_once(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    write_trading_chain(path, 6, None)  # set-up block, then 5 batches of 12 trades
    m0 = derive_member_key("m0").address
    with NodeStore(path) as store:
        assert store.history_height() == 0
        assert catch_up_history(store, example_genesis()) == 6
        rows = store.read_history(m0, None, 1000)
        assert catch_up_history(store, example_genesis()) == 0
        assert store.read_history(m0, None, 1000) == rows
    fills = [r for r in rows if r.event.kind == "fill"]
    assert len(fills) == 5 * 6  # m0 is buyer or seller in 6 of each batch's 12 trades
    assert {r.event.kind for r in rows} >= {"collateral_credited", "venue_authorisation"}


def test_a_pruned_store_s_history_is_not_indexed_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    write_trading_chain(path, 6, 3)
    with NodeStore(path) as store:
        store.prune(3, 1, pinned=set())
        with pytest.raises(StorageError, match="blocks below 3 were pruned"):
            catch_up_history(store, example_genesis())
        assert store.history_height() == 0
