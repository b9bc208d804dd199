"""The end-of-block roll of listing templates (clearing/governance/roll.py) and their
installation and removal by governance (clearing/governance/template_change.py)."""

from __future__ import annotations

from typing import Any

from clearing.governance_changes import RemoveListingTemplate, make_template_change
from clearing.governance_proposal import ProposalStatus
from clearing.transition.block import BlockResult
from clearing.transition.root import compute_state_root_from_scratch
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import genesis_doc
from tests.clearing.test_listing_template import (
    DEC_25_2026,
    GENESIS_MS,
    MAR_26_2027,
    periodic_doc,
    quarterly_doc,
)
from tests.clearing.test_trade import make_batch, make_trade, trading_box

ROLLING_FIRST = "BTC-R-21NOV26-000010"  # the first series of rolling_box's template


def listed(block: BlockResult) -> list[tuple[Any, ...]]:
    return [
        (e.get("template"), e.get("instrument"), e.get("mark"))
        for e in block.get_events()
        if e.kind == "instrument_listed"
    ]


def rolling_doc(period_ms: int = 10_000, series: int = 1) -> dict[str, Any]:
    """Genesis with the first series of a periodic template listed already (it expires
    10 s after genesis, one block a second) and the template rolling it."""
    doc = genesis_doc()
    template = periodic_doc(GENESIS_MS + 10_000, period_ms, series=series)
    doc["listing_templates"] = [template]
    entry = {**template["future"], "id": ROLLING_FIRST, "kind": "future",
             "expiry_ms": GENESIS_MS + 10_000}  # fmt: skip
    doc["instruments"].append(entry)
    doc["mark_prices"][ROLLING_FIRST] = doc["index_prices"]["BTC/0.001"]
    return doc


def test_a_quarterly_template_lists_its_next_series_and_their_ladders_in_the_first_block() -> None:
    doc = genesis_doc()
    doc["listing_templates"] = [quarterly_doc()]
    box = Sandbox.from_genesis_doc(doc)
    block = box.apply([])
    index = box.state.index_prices["BTC/0.001"]
    futures = [(t, i, m) for t, i, m in listed(block) if box.state.instruments[i].strike is None]
    assert futures == [
        ("BTC-QUARTERLY", "BTC-25DEC26", index),
        ("BTC-QUARTERLY", "BTC-26MAR27", index),
    ]
    assert len(listed(block)) == 2 + 2 * 10  # five strikes, a call and a put each
    assert box.state.instruments["BTC-26MAR27"].expiry_ms == MAR_26_2027
    call, put = (box.state.mark_prices[f"BTC-25DEC26-60000-{t}"] for t in "CP")
    # at the money on a future at 60,000 a month out: the same time value either side
    assert call == put and 1 < call < index // 10
    deep = box.state.mark_prices["BTC-25DEC26-50000-C"]
    assert deep > index - 50_000_000 and deep > call
    assert box.state.open_interest["BTC-25DEC26"] == 0
    assert box.state.genesis.instruments[-1].id in box.state.instruments
    assert block.state_root == compute_state_root_from_scratch(box.state)
    assert listed(box.apply([])) == []


def test_each_expiry_lists_the_next_series_once_after_settling_the_expired_one() -> None:
    box, (alice, bob, *_) = trading_box(box=Sandbox.from_genesis_doc(rolling_doc()))
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=3, instrument=ROLLING_FIRST,
                                           price=60_000_000)])])  # fmt: skip
    assert box.state.instruments[ROLLING_FIRST]
    rolls = []
    while box.state.time_ms < GENESIS_MS + 35_000:
        block = box.apply([])
        rolls += [(box.state.time_ms, i) for _, i, _ in listed(block)]
        kinds = [e.kind for e in block.get_events()]
        if "instrument_listed" in kinds and box.state.time_ms < GENESIS_MS + 20_000:
            assert kinds.index("expiry") < kinds.index("instrument_listed")
    assert rolls == [
        (GENESIS_MS + 10_000, "BTC-R-21NOV26-000020"),
        (GENESIS_MS + 20_000, "BTC-R-21NOV26-000030"),
        (GENESIS_MS + 30_000, "BTC-R-21NOV26-000040"),
    ]
    assert ROLLING_FIRST in box.state.final_settlement_prices
    assert not [p for m in box.state.members.values() for a in m.sub_accounts.values()
                for p in a.positions if p == ROLLING_FIRST]  # fmt: skip


def test_a_chain_resuming_past_several_expiries_lists_only_the_series_ahead() -> None:
    box = Sandbox.from_genesis_doc(rolling_doc())
    box.block_interval_ms = 45_000
    block = box.apply([])
    assert [i for _, i, _ in listed(block)] == ["BTC-R-21NOV26-000050"]


def test_governance_installs_a_template_after_its_delay_and_removes_it() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (make_template_change(quarterly_doc(ladder=None)),)))
    box.apply(ballots(box, proposal, range(3)))
    blocks = run_until(box, proposal.execute_height)
    assert all(listed(b) == [] for b in blocks[:-1])
    assert [i for _, i, _ in listed(blocks[-1])] == ["BTC-25DEC26", "BTC-26MAR27"]
    assert proposal.status is ProposalStatus.EXECUTED
    removal = submit(box, propose(box, (RemoveListingTemplate("BTC-QUARTERLY"),)))
    box.apply(ballots(box, removal, range(3)))
    run_until(box, removal.execute_height)
    assert box.state.genesis.listing_templates == ()
    box.block_interval_ms = DEC_25_2026 - box.state.time_ms
    block = box.apply([])
    assert "BTC-25DEC26" in box.state.final_settlement_prices and listed(block) == []


def test_template_changes_are_refused_with_their_reasons() -> None:
    box = gov_sandbox()
    bad = quarterly_doc(series=0)
    assert_refused(box, propose(box, (make_template_change(bad),)), "InvalidTemplate")
    unpriced = quarterly_doc(future={**quarterly_doc()["future"], "index_feed": "SOL/1"})
    assert_refused(box, propose(box, (make_template_change(unpriced),)), "FeedNotPriced")
    uncovered = quarterly_doc(future={**quarterly_doc()["future"], "underlying": "SOL"})
    uncovering = propose(box, (make_template_change(uncovered),))
    detail = assert_refused(box, uncovering, "RiskNotCovering")
    assert "BTC-QUARTERLY" in detail and "SOL" in detail
    twice = (make_template_change(quarterly_doc()), make_template_change(quarterly_doc()))
    assert_refused(box, propose(box, twice), "TemplateInstalled")
    assert_refused(box, propose(box, (RemoveListingTemplate("BTC-QUARTERLY"),)), "UnknownTemplate")
