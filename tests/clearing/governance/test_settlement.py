"""Final settlement of a perpetual by governance (clearing/governance/settlement.py)."""

from __future__ import annotations

from clearing.governance_changes import SetInstrumentStatus, SettlePerpetual
from clearing.instruments import InstrumentStatus
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    event_kinds,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import get_cash_supply, only_result
from tests.clearing.test_trade import make_batch, make_trade, trading_box


def test_a_perpetual_settles_at_the_stated_price_at_its_height() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=2)])])
    supply = get_cash_supply(box.state)
    proposal = submit(box, propose(box, (SettlePerpetual("BTC-PERP", 61_000_000),)))
    box.apply(ballots(box, proposal, range(3)))
    run_until(box, proposal.execute_height - 1)
    assert "BTC-PERP" not in box.state.final_settlement_prices
    block = box.apply([])
    assert event_kinds(block) == ["gov_proposal_executed"]
    assert [(e.kind, e.get("final_price")) for e in block.events[1:2]] == [("expiry", 61_000_000)]
    assert box.state.final_settlement_prices["BTC-PERP"] == 61_000_000
    assert box.state.open_interest["BTC-PERP"] == 0
    for member in (alice, bob):
        assert "BTC-PERP" not in box.state.members[member.address].sub_accounts[0].positions
    assert get_cash_supply(box.state) == supply
    refused = box.apply([make_batch(box, [make_trade(2, alice, bob)], 2)])
    assert [e.get("code") for e in refused.get_events() if e.kind == "trade_rejected"] == [
        "InstrumentSettled"
    ]
    halt = SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED)
    assert "settled" in assert_refused(box, propose(box, (halt,)), "ChangeNotAllowed")
    again = propose(box, (SettlePerpetual("BTC-PERP", 1),))
    assert "already settled" in assert_refused(box, again, "ChangeNotAllowed")


def test_only_a_perpetual_is_settled_by_governance() -> None:
    box = gov_sandbox()
    future = propose(box, (SettlePerpetual("BTC-26DEC26", 60_000_000),))
    assert "settles at expiry" in assert_refused(box, future, "ChangeNotAllowed")
    twice = propose(box, (SettlePerpetual("ETH-PERP", 1), SettlePerpetual("ETH-PERP", 2)))
    assert only_result(box.apply([twice]))[0] == "ChangeNotAllowed"
