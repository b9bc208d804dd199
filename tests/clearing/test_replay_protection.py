"""Bounded replay protection (clearing/replay_protection.py): trade-id windows and deposit
nonces."""

from __future__ import annotations

import contextlib
import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.errors import DuplicateCredit, DuplicateTrade, GenesisError, StaleTradeId
from clearing.genesis import parse_genesis
from clearing.replay_protection import (
    DEFAULT_TRADE_ID_WINDOW,
    DepositNonces,
    TradeIdWindow,
    check_deposit_nonce,
    check_trade_id,
    record_deposit_nonce,
    record_trade_id,
)
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, USDC, genesis_doc, snapshot
from tests.clearing.test_trade import VENUE, clear, make_trade, trading_box

W = 16
VAULT = b"\xf0" * 20


def windowed_box(size: int = W) -> Sandbox:
    doc = genesis_doc()
    doc["trade_id_window"] = size
    return Sandbox.from_genesis_doc(doc)


def try_trade_id(windows: dict[str, TradeIdWindow], venue: str, trade_id: int) -> str:
    """Check and, if accepted, record: the path a cleared trade takes."""
    try:
        check_trade_id(windows, W, venue, trade_id)
    except (StaleTradeId, DuplicateTrade) as error:
        return error.code
    record_trade_id(windows, W, venue, trade_id)
    return "ok"


@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 5 * W)), max_size=200))
def test_no_trade_id_is_applied_twice_and_a_refusal_changes_nothing(
    arrivals: list[tuple[str, int]],
) -> None:
    windows: dict[str, TradeIdWindow] = {}
    applied: set[tuple[str, int]] = set()
    for venue, trade_id in arrivals:
        high = windows[venue].high if venue in windows else None
        before = copy.deepcopy(windows)
        outcome = try_trade_id(windows, venue, trade_id)
        if outcome == "ok":
            assert (venue, trade_id) not in applied
            applied.add((venue, trade_id))
        else:
            assert windows == before
            # refused: a duplicate, or at or below high - W (never inside the window unseen)
            assert (venue, trade_id) in applied or (high is not None and trade_id <= high - W)
            assert outcome == ("StaleTradeId" if high is not None and trade_id <= high - W
                               else "DuplicateTrade")  # fmt: skip
        assert all(len(w.bits) == W // 8 for w in windows.values())


@given(st.integers(1, 3 * W), st.integers(0, 10 * W))
def test_a_slide_forgets_exactly_the_ids_that_leave_the_window(first: int, jump: int) -> None:
    windows: dict[str, TradeIdWindow] = {}
    for trade_id in range(first, first + W):
        record_trade_id(windows, W, VENUE, trade_id)
    top = first + W - 1 + jump
    record_trade_id(windows, W, VENUE, top)
    for trade_id in range(top - W + 1, top + 1):
        seen = first <= trade_id < first + W or trade_id == top
        with pytest.raises(DuplicateTrade) if seen else contextlib.nullcontext():
            check_trade_id(windows, W, VENUE, trade_id)
    with pytest.raises(StaleTradeId) as info:
        check_trade_id(windows, W, VENUE, top - W)
    assert info.value.lowest_accepted == top - W + 1


def test_a_stale_trade_is_rejected_alone_with_its_numbers_and_changes_nothing() -> None:
    box, (a, b, *_) = trading_box(box=windowed_box())
    clear(box, [make_trade(100, a, b)])
    before = snapshot(box.state)
    events = clear(box, [make_trade(100 - W, a, b), make_trade(100, a, b), make_trade(101, a, b)])
    rejected = [(e.get("trade_id"), e.get("code")) for e in events if e.kind == "trade_rejected"]
    assert rejected == [(100 - W, "StaleTradeId"), (100, "DuplicateTrade")]
    assert "lowest_accepted=85" in str(events[0].get("detail"))
    assert events[-1].get("cleared") == 1
    clear(box, [make_trade(85, a, b)])  # the lowest id still accepted
    assert snapshot(box.state) != before


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4 * W), min_size=1, max_size=30))
def test_the_ledger_clears_each_trade_id_at_most_once(trade_ids: list[int]) -> None:
    box, (a, b, *_) = trading_box(box=windowed_box())
    cleared: list[int] = []
    for n, trade_id in enumerate(trade_ids):
        before = snapshot(box.state)
        events = clear(box, [make_trade(trade_id, a, b)], batch_id=n + 1)
        if events[-1].get("cleared"):
            cleared.append(trade_id)
        else:
            assert events[0].get("code") in ("StaleTradeId", "DuplicateTrade")
            assert snapshot(box.state) == before
    assert len(cleared) == len(set(cleared))
    position = box.state.members[a.address].sub_accounts[0].positions["BTC-PERP"]
    assert position.quantity == len(cleared)


@st.composite
def late_arrivals(draw: st.DrawFn) -> tuple[list[int], int]:
    """Nonces 1..n, each arriving at most ``late`` places after its turn, some twice."""
    n = draw(st.integers(1, 60))
    late = draw(st.integers(0, 10))
    delays = draw(st.lists(st.integers(0, late), min_size=n, max_size=n))
    order = sorted(range(1, n + 1), key=lambda k: (k + delays[k - 1], k))
    repeats = draw(st.lists(st.sampled_from(order), max_size=10))
    return order + repeats, late


@given(late_arrivals())
def test_nonces_in_any_order_are_credited_once_each_in_bounded_memory(
    case: tuple[list[int], int],
) -> None:
    arrivals, late = case
    credits: dict[tuple[int, bytes], DepositNonces] = {}
    credited: list[int] = []
    for nonce in arrivals:
        try:
            check_deposit_nonce(credits, 1, VAULT, nonce)
        except DuplicateCredit as error:
            assert nonce in credited and error.deposit_nonce == nonce
            continue
        record_deposit_nonce(credits, 1, VAULT, nonce)
        credited.append(nonce)
        found = credits[(1, VAULT)]
        assert len(found.above) <= late  # bounded by how late a nonce can be
        assert set(credited) == set(range(1, found.through + 1)) | found.above
        assert all(m > found.through + 1 for m in found.above)
    assert sorted(credited) == list(range(1, len(set(arrivals)) + 1))
    assert credits[(1, VAULT)] == DepositNonces(len(credited), set())


def test_a_zero_quanta_deposit_consumes_its_nonce_and_credits_nothing() -> None:
    box = Sandbox.from_genesis_doc(genesis_doc())
    first = box.credit(ALICE.address, USDC, 0)
    unregistered = box.credit(ALICE.address, (USDC[0], b"\x09" * 20), 0)
    block = box.apply([first, unregistered, box.credit(ALICE.address, USDC, 7)])
    assert [r.code for r in block.tx_results] == ["ok", "ok", "ok"]
    assert [r.events[0].kind for r in block.tx_results] == [
        "collateral_not_credited", "collateral_not_credited", "collateral_credited",
    ]  # fmt: skip
    assert box.state.members[ALICE.address].sub_accounts[0].collateral == {USDC: 7}
    vault = first.observation.vault
    assert box.state.deposit_nonces[(USDC[0], vault)] == DepositNonces(3, set())
    assert box.apply([first]).tx_results[0].code == "DuplicateCredit"


def test_root_commits_to_the_replay_state_and_snapshots_keep_it() -> None:
    box, (a, b, *_) = trading_box(box=windowed_box())
    for trade_id in (1, 3, 40, 38):  # a slide past a wrap of the ring, then one late id
        root = compute_state_root(box.state)
        window = copy.deepcopy(box.state.trade_windows.get(VENUE))
        record_trade_id(box.state.trade_windows, W, VENUE, trade_id)
        assert compute_state_root(box.state) != root
        assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
        if window is not None:  # the cached digest is not the content
            box.state.trade_windows[VENUE] = window
            assert compute_state_root(box.state) == root
            record_trade_id(box.state.trade_windows, W, VENUE, trade_id)
    root = compute_state_root(box.state)
    record_deposit_nonce(box.state.deposit_nonces, 1, VAULT, 5)  # above a gap
    assert compute_state_root(box.state) != root
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.trade_windows == box.state.trade_windows
    assert restored.deposit_nonces == box.state.deposit_nonces
    assert compute_state_root(restored) == compute_state_root(box.state)
    assert snapshot(restored) == snapshot(box.state)
    assert clear(box, [make_trade(38, a, b)])[0].get("code") == "DuplicateTrade"


@given(
    st.lists(st.tuples(st.sampled_from(["alpha", "beta"]), st.integers(0, 6 * W)), max_size=40),
    st.lists(st.tuples(st.sampled_from([1, 2]), st.integers(1, 30)), max_size=40),
)
def test_a_snapshot_round_trip_keeps_the_replay_state_and_its_root(
    trades: list[tuple[str, int]], nonces: list[tuple[int, int]]
) -> None:
    box = windowed_box()
    for venue, trade_id in trades:
        with contextlib.suppress(StaleTradeId, DuplicateTrade):
            check_trade_id(box.state.trade_windows, W, venue, trade_id)
            record_trade_id(box.state.trade_windows, W, venue, trade_id)
    for chain_id, nonce in nonces:
        with contextlib.suppress(DuplicateCredit):
            check_deposit_nonce(box.state.deposit_nonces, chain_id, VAULT, nonce)
            record_deposit_nonce(box.state.deposit_nonces, chain_id, VAULT, nonce)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.trade_windows == box.state.trade_windows
    assert restored.deposit_nonces == box.state.deposit_nonces
    assert compute_state_root(restored) == compute_state_root(box.state)
    assert encode_snapshot(restored) == encode_snapshot(box.state)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "a power of two"), (4, "an integer in [8, 268435456]"), (1 << 29, "an integer in")],
)
def test_the_window_must_be_a_bounded_power_of_two(value: int, expected: str) -> None:
    doc = genesis_doc()
    doc["trade_id_window"] = value
    with pytest.raises(GenesisError) as info:
        parse_genesis(doc)
    assert info.value.key == "trade_id_window" and expected in str(info.value.expected)
    assert parse_genesis(genesis_doc()).trade_id_window == DEFAULT_TRADE_ID_WINDOW
