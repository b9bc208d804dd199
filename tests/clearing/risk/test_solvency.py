from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import (
    compute_equity,
    compute_initial_margin,
    compute_scenario_losses,
    is_maintenance_met,
)
from clearing.risk.solvency import get_solvency_form, get_solvency_inputs

KEYS = ((1, b"\x01" * 20), (10, b"\x02" * 20))


@st.composite
def books(draw: st.DrawFn) -> tuple[RiskArrays, dict, dict, dict, int, int, int]:  # type: ignore[type-arg]
    n_inst = draw(st.integers(1, 4))
    n_scen = draw(st.integers(1, 6))
    ids = tuple(f"I{n}" for n in range(n_inst))
    values = tuple(
        (0, *draw(st.lists(st.integers(-(10**6), 10**6), min_size=n_scen, max_size=n_scen)))
        for _ in ids
    )
    arrays = RiskArrays(1, ids, tuple(str(s) for s in range(n_scen + 1)), values)
    weights = {k: draw(st.integers(0, 10**4)) for k in KEYS}
    collateral = {k: draw(st.integers(0, 10**6)) for k in KEYS[: draw(st.integers(0, 2))]}
    positions = {i: draw(st.integers(-1000, 1000)) for i in ids if draw(st.booleans())}
    cash = draw(st.integers(-(10**10), 10**10))
    k_den = draw(st.integers(2, 100))
    return arrays, weights, collateral, positions, cash, draw(st.integers(1, k_den - 1)), k_den


@given(books())
def test_rows_are_exactly_the_engine_maintenance_check(book) -> None:  # type: ignore[no-untyped-def]
    arrays, weights, collateral, positions, cash, k_num, k_den = book
    form = get_solvency_form(arrays, KEYS, weights, k_num, k_den)
    inputs = get_solvency_inputs(form, cash, collateral, positions)
    equity = compute_equity(cash, collateral, weights)
    im = compute_initial_margin(compute_scenario_losses(positions, arrays))
    assert form.is_solvent(inputs) == is_maintenance_met(equity, im, k_num, k_den)
    losses = compute_scenario_losses(positions, arrays)
    assert form.evaluate(inputs) == tuple(k_den * equity - k_num * loss for loss in losses)


def test_labels_cover_every_input_in_order() -> None:
    arrays = RiskArrays(0, ("A", "B"), ("base", "up"), ((0, 5), (0, -3)))
    form = get_solvency_form(arrays, KEYS, {KEYS[0]: 7, KEYS[1]: 9}, 1, 2)
    assert form.input_labels == (
        "cash", f"collateral:1:0x{'01' * 20}", f"collateral:10:0x{'02' * 20}",
        "position:A", "position:B",
    )  # fmt: skip
    assert form.rows == ((2, 14, 18, 0, 0), (2, 14, 18, 5, -3))
    assert get_solvency_inputs(form, 5, {KEYS[1]: 4}, {"B": -2}) == (5, 0, 4, 0, -2)
