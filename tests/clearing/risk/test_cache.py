"""The kept margin figures (the risk engine's RISK_CACHE) are exactly the from-scratch ones.

Random blocks of trades, price moves (large enough to liquidate and default),
time jumps (funding, option and future expiry, a physically settled option
exercised into its future) and epoch boundaries (default-fund sizing, every 2
blocks) run through ``process_block``:

- every pre-trade decision and the figures it leaves equal the from-scratch
  engine's (IM before and after recomputed from the lots with
  ``compute_scenario_losses``);
- after every block every kept entry equals a from-scratch computation of the
  lots it records, and every sub-account's kept IM equals its from-scratch IM;
- the same blocks on a twin whose cache is dropped before every read give
  byte-identical block results (so no liquidation, default-fund or withdrawal
  outcome depends on what the cache held).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.risk import engine
from clearing.risk.cache import RiskCache, TradeFigures, get_lots
from clearing.risk.errors import InsufficientMargin
from clearing.risk.margin import (
    compute_initial_margin,
    compute_scenario_losses,
    compute_trade_losses,
)
from clearing.state import ClearingState, Position, SubAccount, get_collateral_value
from clearing.transition.block import BlockResult
from clearing.transition.trade import Trade
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.support import USDC, genesis_doc
from tests.clearing.test_trade import VENUE, make_batch

DAY = 86_400_000
PHYSICAL_PUT = "BTC-26DEC26-60000-P"
INSTRUMENTS = ["BTC-PERP", "ETH-PERP", "BTC-26DEC26", "BTC-26DEC26-65000-C", PHYSICAL_PUT]
FEEDS = {"BTC-PERP": "BTC/0.001", "ETH-PERP": "ETH/0.01"}
MEMBERS = [derive_member_key(f"cache-{n}") for n in range(4)]
COLLATERAL = [3 * 10**8, 10**9, 4 * 10**9, 2 * 10**10]  # tight to ample: rejections happen


def build_base_box() -> Sandbox:
    doc = genesis_doc()
    doc["epoch_length_blocks"] = 2
    doc["oracle"]["max_move_bps"] = 5000
    template = next(i for i in doc["instruments"] if i["kind"] == "option")
    doc["instruments"].append(
        {**template, "id": PHYSICAL_PUT, "strike": 60_000_000, "option_type": "put",
         "settlement": "physical", "expiry_ms": doc["genesis_time_ms"] + 20 * DAY}
    )  # fmt: skip
    doc["mark_prices"][PHYSICAL_PUT] = 2_000_000
    doc["risk"]["backstops"] = [{"member": "0x" + MEMBERS[3].address.hex(), "sub_account": 0}]
    box = Sandbox.from_genesis_doc(doc)
    txs: list[Any] = [
        box.credit(m.address, USDC, q) for m, q in zip(MEMBERS, COLLATERAL, strict=True)
    ]
    txs += [box.authorise(m, VENUE) for m in MEMBERS]
    assert all(r.is_ok() for r in box.apply(txs).tx_results)
    return box


BASE = build_base_box()


def fresh_box() -> Sandbox:
    return Sandbox(BASE.genesis, copy.deepcopy(BASE.state), BASE.validator_keys)


trade_row = st.tuples(
    st.integers(0, 3), st.integers(0, 1), st.integers(0, 3), st.integers(0, 1),
    st.integers(0, len(INSTRUMENTS) - 1),
    st.integers(-60, 60),  # distance from the mark, permille
    st.integers(1, 40),  # lots
)  # fmt: skip
prices = st.tuples(
    st.just("prices"),
    st.lists(st.integers(-3000, 3000), min_size=len(INSTRUMENTS), max_size=len(INSTRUMENTS)),
    st.integers(-3000, 3000),
)
block = st.tuples(
    st.sampled_from([1_000, 3_600_000, 9 * DAY, 15 * DAY]),
    st.lists(
        st.one_of(st.tuples(st.just("trades"), st.lists(trade_row, min_size=1, max_size=8)),
                  prices),
        max_size=3,
    ),
)  # fmt: skip


def build_tx(box: Sandbox, op: tuple[Any, ...], first_id: int) -> TxRecord:
    state = box.state
    if op[0] == "prices":
        marks = {i: max(1, state.mark_prices[i] * (10_000 + m) // 10_000)
                 for i, m in zip(INSTRUMENTS, op[1], strict=True)
                 if i in state.mark_prices}  # fmt: skip
        index = {f: max(1, state.index_prices[f] * (10_000 + op[2]) // 10_000)
                 for f in FEEDS.values()}  # fmt: skip
        return box.prices(index, marks)
    trades = []
    for n, (b, bs, s, ss, i, permille, q) in enumerate(op[1]):
        instrument = state.instruments.get(INSTRUMENTS[i])
        price = 1  # a pruned instrument (expired, settled, retained): refused as unknown
        if instrument is not None:
            tick, mark = instrument.tick_size, state.mark_prices[instrument.id]
            price = max(tick, (mark + mark * permille // 1_000) // tick * tick)
        trades.append(Trade(first_id + n, INSTRUMENTS[i], MEMBERS[b].address, bs,
                            MEMBERS[s].address, ss, price, q))  # fmt: skip
    return make_batch(box, trades, batch_id=first_id)


def run_blocks(box: Sandbox, blocks: list[Any], after_block: Any = None) -> list[bytes]:
    out = []
    for n, (advance, ops) in enumerate(blocks):
        box.block_interval_ms = advance
        txs = [build_tx(box, op, 100 * (3 * n + k)) for k, op in enumerate(ops)]
        out.append(box.apply(txs).encode())
        if after_block is not None:
            after_block(box.state)
    return out


def get_from_scratch_losses(state: ClearingState, lots: dict[str, int]) -> tuple[int, ...]:
    setup = engine.get_risk_setup(state)
    assert setup is not None
    return compute_scenario_losses(lots, engine.get_risk_arrays(state, setup))


@contextmanager
def decisions_checked_from_scratch(decisions: list[bool]) -> Iterator[None]:
    """Wrap the production check: its decision and figures must equal the old engine's."""
    production = engine.check_pre_trade

    def checked(
        state: ClearingState, cache: RiskCache | None, member: bytes, sub: int,
        account: SubAccount | None, instrument_id: str, quantity_before: int,
        quantity_after: int, cash_after: int,
    ) -> TradeFigures | None:  # fmt: skip
        lots = engine.get_quantities(account) if account is not None else {}
        assert lots.get(instrument_id, 0) == quantity_before
        im_before = engine.get_account_initial_margin(state, account)
        lots_after = {**lots, instrument_id: quantity_after}
        after = get_from_scratch_losses(state, {i: q for i, q in lots_after.items() if q})
        im_after = compute_initial_margin(after)
        collateral = 0 if account is None else get_collateral_value(state, account)
        rejects = im_after > im_before and cash_after + collateral < im_after
        try:
            figures = production(
                state, cache, member, sub, account, instrument_id, quantity_before,
                quantity_after, cash_after,
            )  # fmt: skip
        except InsufficientMargin as error:
            assert rejects
            assert (error.initial_margin_before, error.initial_margin) == (im_before, im_after)
            decisions.append(False)
            raise
        assert not rejects and figures is not None
        assert (get_trade_losses(figures), figures.initial_margin) == (after, im_after)
        decisions.append(True)
        return figures

    with mock.patch("clearing.transition.trade.check_pre_trade", checked):
        yield


def get_trade_losses(figures: TradeFigures) -> tuple[int, ...]:
    """The losses the checked trade would leave, by the reference from the kept ones."""
    cache = figures.cache
    before = (
        (0,) * cache.arrays.scenario_count
        if figures.before is None
        else cache.table.get(figures.before.slot)
    )
    return compute_trade_losses(before, cache.arrays.values[figures.row], figures.delta)


def check_kept_figures(state: ClearingState) -> None:
    """Every current kept entry is exact for its lots; every account's kept IM is exact."""
    cache = state.derived.get(engine.RISK_CACHE)
    if isinstance(cache, RiskCache) and cache.marks == state.mark_prices:
        for entry in cache.accounts.values():
            if entry.is_current(entry.positions):
                losses = compute_scenario_losses(get_lots(entry.positions), cache.arrays)
                assert cache.table.get(entry.slot) == losses
                assert entry.initial_margin == compute_initial_margin(losses)
    for address, member in state.members.items():
        for sub, account in member.sub_accounts.items():
            assert engine.get_kept_initial_margin(
                state, address, sub, account
            ) == engine.get_account_initial_margin(state, account)


@contextmanager
def cache_dropped_before_every_read() -> Iterator[None]:
    production = engine.get_risk_cache

    def fresh(state: ClearingState, setup: engine.RiskSetup) -> RiskCache:
        state.derived.drop(engine.RISK_CACHE)
        return production(state, setup)

    with mock.patch.object(engine, "get_risk_cache", fresh):
        yield


@settings(max_examples=40, deadline=None)
@given(st.lists(block, min_size=1, max_size=8))
def test_kept_figures_and_decisions_equal_the_from_scratch_engine(blocks: list[Any]) -> None:
    decisions: list[bool] = []
    kept = fresh_box()
    with decisions_checked_from_scratch(decisions):
        results = run_blocks(kept, blocks, check_kept_figures)
    fresh = fresh_box()
    with cache_dropped_before_every_read():
        assert run_blocks(fresh, blocks) == results
    assert kept.state.derived.get(engine.RISK_CACHE) is not None or not decisions


def test_the_property_run_reaches_rejections_liquidations_expiry_and_exercise() -> None:
    """The strategy is not vacuous: one hand-picked run shows each case."""
    box = fresh_box()
    decisions: list[bool] = []
    # member 0 (the tightest) buys 12 lots, then 40 more (rejected); member 1 buys puts
    big = [("trades", [(0, 0, 3, 0, 0, 0, 12), (0, 0, 3, 0, 0, 0, 40), (1, 0, 2, 0, 4, 0, 40)])]
    blocks = [
        (1_000, big),
        (1_000, [("prices", [-3000, -3000, -3000, 3000, 3000], -3000)]),
        (21 * DAY, [("prices", [0, 0, 0, 0, 0], 0)]),
    ]
    with decisions_checked_from_scratch(decisions):
        encoded = run_blocks(box, blocks, check_kept_figures)
    assert True in decisions and False in decisions
    kinds = {e.kind for raw in encoded for e in BlockResult.decode(raw).events}
    assert {"liquidated", "expiry", "exercise"} <= kinds, kinds


def test_a_position_written_behind_the_cache_is_not_read_stale() -> None:
    box = fresh_box()
    state = box.state
    address = MEMBERS[0].address
    account = state.members[address].sub_accounts[0]
    assert engine.get_kept_initial_margin(state, address, 0, account) == 0
    account.positions["BTC-PERP"] = Position(5, 60_000_000, 60_000_000, 0, 0)
    expected = engine.get_account_initial_margin(state, account)
    assert expected > 0
    assert engine.get_kept_initial_margin(state, address, 0, account) == expected
    state.mark_prices["BTC-PERP"] *= 2  # arrays' inputs changed behind the cache
    assert engine.get_kept_initial_margin(
        state, address, 0, account
    ) == engine.get_account_initial_margin(state, account)


def test_the_end_of_block_scan_reads_kept_entries_without_keeping_the_whole_book() -> None:
    from clearing.default.steps import is_any_below_maintenance

    box = fresh_box()
    state = box.state
    for member in MEMBERS[:2]:
        account = state.members[member.address].sub_accounts[0]
        account.positions["BTC-PERP"] = Position(1, 60_000_000, 60_000_000, 0, 0)
    first = MEMBERS[0].address
    engine.get_kept_initial_margin(state, first, 0, state.members[first].sub_accounts[0])
    assert not is_any_below_maintenance(state)
    assert set(state.derived.get(engine.RISK_CACHE).accounts) == {
        (first, 0)
    }  # not the second's vector


def test_the_kept_figures_outlive_blocks_within_one_pricing_interval() -> None:
    """With options listed, a new block time rebuilds the arrays (and drops every kept
    figure) only once it reaches the next pricing interval."""
    state = fresh_box().state
    setup = engine.get_risk_setup(state)
    assert setup is not None and setup.is_time_dependent
    interval = setup.params.pricing_interval_ms
    assert interval == 60_000  # the example genesis's
    state.time_ms -= state.time_ms % interval
    kept = engine.get_risk_cache(state, setup)
    state.time_ms += interval - 1
    assert engine.get_risk_cache(state, setup) is kept
    state.time_ms += 1
    assert engine.get_risk_cache(state, setup) is not kept
