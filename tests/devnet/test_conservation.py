"""The conservation checks catch value created from nothing."""

from __future__ import annotations

import json

from clearnode.client.sandbox_keys import derive_member_key
from devnet.conservation import Ledger
from devnet.genesis import EXAMPLE_GENESIS
from devnet.sandbox import Sandbox


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
    account.collateral[usdc] -= 1
    box.state.vault_quanta[usdc] += 1  # what the state keeps drifting from its accounts
    assert "the vaults' holdings kept" in ledger.check(box.state)
