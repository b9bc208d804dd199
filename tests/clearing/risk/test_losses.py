"""The native loss table gives the reference's numbers, or refuses and changes nothing.

Random risk arrays and random sequences of slot writes and trades run on both
``clearnode_native.LossTable`` and ``ReferenceLossTable``. Values are drawn near the
64-bit limit often enough that products and differences leave it: there the native
table must raise ``OverflowError`` exactly when the reference's exact result (or an
input) is beyond the signed 64-bit range, and hold what it held before.
"""

from __future__ import annotations

import sys

import clearnode_native
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.risk.arrays import RiskArrays
from clearing.risk.cache import (
    RiskCache,
    compute_trade_figures,
    get_account_figures,
    get_lots,
    keep_trade_figures,
)
from clearing.risk.losses import ReferenceLossTable, create_loss_table, get_reference_table
from clearing.risk.margin import (
    compute_initial_margin,
    compute_scenario_losses,
    compute_trade_losses,
)
from clearing.state import Position, Positions

I64 = (-(2**63), 2**63 - 1)
KEY = (bytes(20), 0)


def fits(*values: int) -> bool:
    return all(I64[0] <= v <= I64[1] for v in values)


values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**64), 2**64),  # sometimes beyond: the native table refuses
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[int, list[tuple[int, ...]]]:
    scenarios = draw(st.integers(1, 6))
    rows = draw(st.lists(st.tuples(*[values] * scenarios), min_size=1, max_size=4))
    return scenarios, rows


operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "set", "after", "apply"]),
        st.integers(0, 5),  # slot (taken modulo the slots there are)
        st.integers(0, 3),  # row (modulo the rows)
        st.one_of(st.integers(-200, 200), st.integers(-(2**64), 2**64)),  # lots
        st.lists(values, min_size=6, max_size=6),  # losses for add / set
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(tables(), operations)
def test_native_table_equals_the_reference_or_refuses(
    table: tuple[int, list[tuple[int, ...]]],
    ops: list[tuple[str, int, int, int, list[int]]],
) -> None:
    scenarios, rows = table
    reference = ReferenceLossTable(rows)
    try:
        native = clearnode_native.LossTable(scenarios, rows)
    except OverflowError:
        assert not fits(*(v for row in rows for v in row))
        return
    for kind, slot, row, delta, drawn in ops:
        losses = tuple(drawn[:scenarios])
        row %= len(rows)
        if kind == "add" or len(reference) == 0:
            if fits(*losses):
                assert native.add(losses) == reference.add(losses)
            else:
                with pytest.raises(OverflowError):
                    native.add(losses)
        else:
            slot %= len(reference)
            held = reference.get(slot)
            after = compute_trade_losses(held, rows[row], delta)
            exact = fits(delta, *after, *(delta * v for v in rows[row]))
            if kind == "set":
                if fits(*losses):
                    native.set(slot, losses)
                    reference.set(slot, losses)
                else:
                    with pytest.raises(OverflowError):
                        native.set(slot, losses)
            elif kind == "after":
                if exact:
                    assert native.get_initial_margin_after(slot, row, delta) == (
                        reference.get_initial_margin_after(slot, row, delta)
                    )
                else:
                    with pytest.raises(OverflowError):
                        native.get_initial_margin_after(slot, row, delta)
            elif exact:
                assert native.apply(slot, row, delta) == reference.apply(slot, row, delta)
            else:
                with pytest.raises(OverflowError):
                    native.apply(slot, row, delta)
        assert len(native) == len(reference)
        for n in range(len(reference)):  # a refusal changed nothing
            assert native.get(n) == reference.get(n)
            assert native.get_initial_margin(n) == reference.get_initial_margin(n)
    assert get_reference_table(native, rows).slots == reference.slots


def test_native_table_refuses_bad_shapes_with_the_numbers() -> None:
    with pytest.raises(ValueError, match="needs a scenario"):
        clearnode_native.LossTable(0, [])
    with pytest.raises(ValueError, match="2 values for 3 scenarios"):
        clearnode_native.LossTable(3, [(1, 2)])
    native = clearnode_native.LossTable(2, [(1, -1)])
    with pytest.raises(ValueError, match="3 losses for 2 scenarios"):
        native.add((1, 2, 3))
    with pytest.raises(IndexError, match="no loss slot 0"):
        native.get(0)
    slot = native.add((5, 7))
    with pytest.raises(IndexError, match="no risk array row 1"):
        native.apply(slot, 1, 1)
    assert native.get(slot) == (5, 7)


def test_arrays_beyond_64_bits_get_the_reference_table() -> None:
    assert isinstance(create_loss_table(1, [(2**63,)]), ReferenceLossTable)
    assert isinstance(create_loss_table(1, [(2**62,)]), clearnode_native.LossTable)


def test_without_the_native_core_every_table_is_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "clearnode_native", None)  # as in clearnode-client
    table = create_loss_table(2, [(3, -4)])
    assert isinstance(table, ReferenceLossTable)
    assert table.apply(table.add((0, 0)), 0, 2) == 8


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-(2**61), 2**61), st.integers(-(2**40), 2**40)), min_size=3,
             max_size=3),
    st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(-50, 50)), max_size=30),
)  # fmt: skip
def test_kept_figures_are_exact_across_a_refusal(
    columns: list[tuple[int, int]], trades: list[tuple[str, int]]
) -> None:
    """Trades through the risk cache (check, write, keep) leave the from-scratch losses
    and IM, whether the native table holds them or, once a sum left 64 bits, the
    reference took over."""
    values = tuple(tuple(pair) for pair in columns)  # 3 instruments, 2 scenarios
    arrays = RiskArrays(0, ("A", "B", "C"), ("base", "up"), values)
    cache = RiskCache(None, 0, None, {}, arrays)  # type: ignore[arg-type]
    positions = Positions()
    for instrument_id, delta in trades:
        before = get_account_figures(cache, KEY, positions)
        figures = compute_trade_figures(cache, before, instrument_id, delta)
        record = positions.get(instrument_id, Position())
        record.quantity += delta
        positions[instrument_id] = record
        keep_trade_figures(cache, figures)
        losses = compute_scenario_losses(get_lots(positions), arrays)
        assert figures.initial_margin == compute_initial_margin(losses)
        kept = get_account_figures(cache, KEY, positions)
        assert cache.table.get(kept.slot) == losses
        assert kept.initial_margin == compute_initial_margin(losses)
    if trades and not fits(*cache.table.get(0)):
        assert isinstance(cache.table, ReferenceLossTable)
