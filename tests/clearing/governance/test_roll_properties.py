"""Properties of the listing roll over random block times, cycles and snapshot heights:
it is deterministic, lists each series exactly once (at the first block whose time makes
it one of the next), moves no money, and replays and restores to the same roots."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.context import BlockContext
from clearing.governance.roll import process_listing_roll
from clearing.transition.root import encode_account
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from tests.clearing.governance.test_roll import ROLLING_FIRST, listed, rolling_doc
from tests.clearing.test_trade import make_batch, make_trade, trading_box


@dataclass(frozen=True)
class Plan:
    period_ms: int
    series: int
    intervals: tuple[int, ...]  # each block's time after the previous one's
    snapshot_block: int


plans = st.builds(
    Plan,
    st.sampled_from([5_000, 10_000, 30_000]),
    st.integers(1, 3),
    st.lists(st.integers(1, 25_000), min_size=4, max_size=10).map(tuple),
    st.integers(0, 3),
)


def start(plan: Plan) -> Sandbox:
    """Members long and short the perpetual and the first series of the template."""
    doc = rolling_doc(plan.period_ms, plan.series)
    doc["listing_templates"][0]["ladder"] = {
        "strikes_each_side": 1, "spacing": 5_000_000, "strike_unit": 1000, "tick_size": 10,
        "price_band_bps": 5000, "fee_bps": 3, "settlement": "cash",
    }  # fmt: skip
    box, (alice, bob, *_) = trading_box(box=Sandbox.from_genesis_doc(doc))
    trades = [make_trade(1, alice, bob, quantity=4),
              make_trade(2, bob, alice, 60_000_000, 2, ROLLING_FIRST)]  # fmt: skip
    box.apply([make_batch(box, trades)])
    return box


def get_money(box: Sandbox) -> tuple[object, ...]:
    s = box.state
    return (
        {a: encode_account(m) for a, m in s.members.items()},
        s.fee_pool,
        s.insurance_fund,
        dict(s.final_settlement_prices),
    )


def run(plan: Plan) -> tuple[Sandbox, list[bytes], list[list[tuple[object, ...]]]]:
    box = start(plan)
    roots, events = [], []
    for interval in plan.intervals:
        box.block_interval_ms = interval
        block = box.apply([])
        roots.append(block.state_root)
        events.append(listed(block))
    return box, roots, events


@settings(max_examples=8, deadline=None)
@given(plans)
def test_each_series_is_listed_exactly_once_when_it_becomes_one_of_the_next(plan: Plan) -> None:
    box = start(plan)
    template = box.state.genesis.listing_templates[0]
    seen: set[object] = set()
    for interval in plan.intervals:
        box.block_interval_ms = interval
        block = box.apply([])
        ids = [i for _, i, _ in listed(block)]
        assert not seen & set(ids) and len(set(ids)) == len(ids)
        seen |= set(ids)
        ahead = {template.make_series(e).id for e in template.get_next_expiries(box.state.time_ms)}
        assert ahead <= set(box.state.instruments)
        futures = {i for i in ids if box.state.instruments[i].strike is None}
        assert futures <= ahead  # listed only while it is one of the next


@settings(max_examples=8, deadline=None)
@given(plans)
def test_the_roll_moves_no_money(plan: Plan) -> None:
    box = start(plan)
    for interval in plan.intervals:
        before = get_money(box)
        ctx = BlockContext(box.state.height + 1, box.state.time_ms + interval, box.chain_id)
        process_listing_roll(box.state, ctx)
        assert get_money(box) == before
        box.block_interval_ms = interval
        box.apply([])


@settings(max_examples=5, deadline=None)
@given(plans)
def test_the_roll_replays_and_restores_from_a_snapshot_to_the_same_roots(plan: Plan) -> None:
    first, roots, events = run(plan)
    _, roots_again, events_again = run(plan)
    assert (roots, events) == (roots_again, events_again)
    box = start(plan)
    for interval in plan.intervals[: plan.snapshot_block]:
        box.block_interval_ms = interval
        box.apply([])
    state = decode_snapshot(box.genesis, encode_snapshot(box.state))
    restored = Sandbox(box.genesis, state, box.validator_keys)
    for n, interval in enumerate(plan.intervals[plan.snapshot_block :], plan.snapshot_block):
        restored.block_interval_ms = interval
        assert restored.apply([]).state_root == roots[n]
    assert restored.state.genesis == first.state.genesis
