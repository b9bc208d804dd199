"""The charts' history: one sample per commit, bounded, public figures only."""

from __future__ import annotations

from node.api.house import get_default_fund_view
from node.status.history import HISTORY_BLOCKS, History
from node.status.journal import Journal
from tests.node.status.test_overview import commit, traded_sandbox


def test_the_history_keeps_the_last_samples_only() -> None:
    box = traded_sandbox()
    journal, history = Journal(), History()
    for height in range(1, HISTORY_BLOCKS + 30):
        commit(journal, height, None)
        history.record(box.state, journal.blocks[0])
    columns = history.to_columns()
    assert len(history.samples) == HISTORY_BLOCKS
    assert columns["height"] == list(range(30, HISTORY_BLOCKS + 30))
    assert columns["time_ms"] == [1_000 * h for h in columns["height"]]
    assert set(columns["commit_ms"]) == {40}
    fund = get_default_fund_view(box.state, detailed=False)
    assert set(columns["default_fund_posted"]) == {fund["posted"]}
    assert set(columns["default_fund_required"]) == {fund["required"]}


def test_a_price_listed_later_has_no_value_before_it() -> None:
    box = traded_sandbox()
    journal, history = Journal(), History()
    for height in (1, 2, 3):
        if height == 3:
            box.state.mark_prices["NEW-PERP"] = 5
        box.state.mark_prices["BTC-PERP"] = 60_000_000 + height
        commit(journal, height, None)
        history.record(box.state, journal.blocks[0])
    marks = history.to_columns()["marks"]
    assert marks["BTC-PERP"] == [60_000_001, 60_000_002, 60_000_003]
    assert marks["NEW-PERP"] == [None, None, 5]
