"""The conservation checks catch value created from nothing; the price path is
seeded and its crash lands in one step."""

from __future__ import annotations

import json

from clearing.sandbox import Sandbox, derive_member_key
from node.devnet.genesis import EXAMPLE_GENESIS
from node.devnet.market import BTC_FEED, CRASH_BPS, PricePath
from node.devnet.summary import Ledger


def test_ledger_catches_money_and_collateral_from_nowhere() -> None:
    box = Sandbox.from_genesis_doc(json.loads(EXAMPLE_GENESIS.read_text()))
    usdc = box.genesis.collateral[0].key
    ledger = Ledger()
    ledger.start(box.state)
    member = derive_member_key("summary-test")
    ledger.record(box.apply([box.credit(member.address, usdc, 1_000)]))
    assert ledger.check(box.state) == ""
    account = box.state.members[member.address].sub_accounts[0]
    account.cash += 1
    assert "cash+fees+insurance" in ledger.check(box.state)
    account.cash -= 1
    account.collateral[usdc] += 1
    assert "held+pending 1001 != net credited 1000" in ledger.check(box.state)


def test_price_path_is_seeded_and_crashes_in_one_step() -> None:
    first, second = PricePath.start(3), PricePath.start(3)
    assert [first.step() for _ in range(5)] == [second.step() for _ in range(5)]
    before = first.index[BTC_FEED]
    index, _ = first.step(crash=True)
    assert index[BTC_FEED] == before * (10_000 - CRASH_BPS) // 10_000
