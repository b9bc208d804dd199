"""A block's result to its history rows: every named member gets its own side, in block
order; a store whose history is behind its blocks catches up from them."""

from __future__ import annotations

from clearing.block import BlockResult, TxResult
from clearing.default.house import HOUSE
from clearing.events import make_event
from node.history.indexer import get_block_history
from tests.node.test_api import ALICE, BOB


def test_rows_number_the_block_s_events_tx_first_then_end_of_block() -> None:
    fill = make_event("fill", member=ALICE.address, sub_account=0, quantity=3)
    call = make_event("margin_call", member=BOB.address, sub_account=1, amount_due=7)
    result = BlockResult(4, (TxResult("ok", "", (fill,)),), (call,), bytes(32))
    rows = get_block_history(result).rows
    assert [(r.member, r.height, r.seq, r.source, r.index) for r in rows] == [
        (ALICE.address, 4, 0, "tx", 0),
        (BOB.address, 4, 1, "block", -1),
    ]


def test_each_party_reads_its_own_side_and_the_house_stays_named() -> None:
    taken = make_event("liquidated", member=ALICE.address, sub_account=0, quantity=5,
                       instrument="BTC-PERP", counterparty=BOB.address,
                       counterparty_sub_account=2)  # fmt: skip
    sold = make_event("collateral_sold", member=BOB.address, sub_account=0, quanta=4,
                      counterparty=HOUSE[0], counterparty_sub_account=0)  # fmt: skip
    rows = get_block_history(BlockResult(1, (), (taken, sold), bytes(32))).rows
    (alices,) = [r for r in rows if r.member == ALICE.address]
    assert dict(alices.event.data) == {"member": ALICE.address, "sub_account": 0,
                                       "instrument": "BTC-PERP", "quantity": 5}  # fmt: skip
    bobs = [dict(r.event.data) for r in rows if r.member == BOB.address]
    assert bobs[0] == {"instrument": "BTC-PERP", "quantity": 5, "counterparty": BOB.address,
                       "counterparty_sub_account": 2}  # fmt: skip
    assert bobs[1]["counterparty"] == HOUSE[0]  # the clearing house is no member's secret
    assert len(rows) == 4  # and the house has its own row of the sale
