"""Properties of the prune of settled instruments over random positions, retentions and
block times: it moves no money (every sub-account's cash, collateral, positions, equity
and margins, and the ledger's totals, are what they were) and the state it leaves
restores from its snapshot to the same root."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

from clearing.governance.pruning import process_instrument_pruning
from clearing.risk.engine import get_member_risk
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from tests.clearing.governance.test_pruning import SECOND, pruning_box
from tests.clearing.governance.test_roll import ROLLING_FIRST, rolling_doc
from tests.clearing.support import get_cash_supply
from tests.clearing.test_trade import make_batch, make_trade, trading_box


@dataclass(frozen=True)
class Plan:
    retention_ms: int
    lots: tuple[int, int, int, int]  # the perpetual, the first series, the second, a call
    intervals: tuple[int, ...]  # each block's time after the previous one's


plans = st.builds(
    Plan,
    st.sampled_from([0, 5_000, 20_000]),
    st.tuples(*[st.integers(1, 5)] * 4),
    st.lists(st.integers(1_000, 30_000), min_size=3, max_size=10).map(tuple),
)


def start(plan: Plan) -> Sandbox:
    """Members long and short the perpetual, two series of a template and a call on the
    second (listed by the first block)."""
    doc = rolling_doc(series=2)
    doc["listing_templates"][0]["ladder"] = {
        "strikes_each_side": 1, "spacing": 5_000_000, "strike_unit": 1000, "tick_size": 10,
        "price_band_bps": 5000, "fee_bps": 3, "settlement": "cash",
    }  # fmt: skip
    box, (alice, bob, carol, _) = trading_box(box=pruning_box(doc, plan.retention_ms))
    perp, first, second, call = plan.lots
    premium = box.state.mark_prices[f"{SECOND}-60000-C"] // 10 * 10  # on the tick
    trades = [
        make_trade(1, alice, bob, quantity=perp),
        make_trade(2, bob, carol, 60_000_000, first, ROLLING_FIRST),
        make_trade(3, carol, alice, 60_000_000, second, SECOND),
        make_trade(4, alice, carol, premium, call,
                   f"{SECOND}-60000-C"),
    ]  # fmt: skip
    block = box.apply([make_batch(box, trades)])
    assert all(e.kind != "trade_rejected" for e in block.get_events())
    return box


def get_money(box: Sandbox) -> tuple[object, ...]:
    """What a member has and is asked for, per sub-account, and the ledger's totals."""
    state = box.state
    accounts = {}
    for address, member in state.members.items():
        for sub_id, account in member.sub_accounts.items():
            risk = get_member_risk(state, address, sub_id, with_prices=False)
            assert risk is not None
            accounts[address, sub_id] = (
                account.cash, dict(account.collateral),
                {i: p.quantity for i, p in account.positions.items()},
                risk.equity, risk.initial_margin, risk.maintenance_margin,
            )  # fmt: skip
    return accounts, get_cash_supply(state), state.fee_pool, state.insurance_fund


@settings(max_examples=15, deadline=None)
@given(plans)
def test_pruning_moves_no_money_and_restores_to_the_same_root(plan: Plan) -> None:
    box = start(plan)
    removed = 0
    for interval in plan.intervals:
        box.block_interval_ms = interval
        before = get_money(box)
        events = process_instrument_pruning(box.state, box.next_context())
        assert get_money(box) == before
        removed += len(events)
        block = box.apply([])
        restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
        assert compute_state_root(restored) == block.state_root
    event(f"instruments pruned: {min(removed, 3)}{'+' if removed >= 3 else ''}")
