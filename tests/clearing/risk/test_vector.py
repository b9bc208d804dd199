from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from clearing.risk.margin import compute_initial_margin, is_maintenance_met
from clearing.risk.vector import compute_batch_margins, compute_losses_reference

INT64 = st.integers(-(2**63) + 1, 2**63 - 1)


@st.composite
def batches(draw: st.DrawFn, big: bool) -> tuple[np.ndarray, ...]:  # type: ignore[type-arg]
    n_inst, n_scen = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    n, slots = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    value = INT64 if big else st.integers(-(10**9), 10**9)
    qty = INT64 if big else st.integers(-(10**6), 10**6)
    values = np.array(draw(st.lists(st.lists(value, min_size=n_scen, max_size=n_scen),
                                    min_size=n_inst, max_size=n_inst)), dtype=np.int64)  # fmt: skip
    values[:, 0] = 0
    index = np.array([[draw(st.integers(0, n_inst - 1)) for _ in range(slots)] for _ in range(n)],
                     dtype=np.int64)  # fmt: skip
    quantity = np.array([[draw(qty) for _ in range(slots)] for _ in range(n)], dtype=np.int64)
    equity = np.array([draw(INT64 if big else st.integers(-10**16, 10**16)) for _ in range(n)],
                      dtype=np.int64)  # fmt: skip
    return values, index, quantity, equity


def _reference(values, index, quantity, equity, k_num, k_den):  # type: ignore[no-untyped-def]
    ims = [compute_initial_margin(r) for r in compute_losses_reference(values, index, quantity)]
    pairs = zip(equity.tolist(), ims, strict=True)
    flags = [not is_maintenance_met(e, m, k_num, k_den) for e, m in pairs]
    return tuple(ims), tuple(flags)


@given(batches(big=False), st.integers(1, 99))
def test_vectorised_path_equals_python_reference(batch, k_num) -> None:  # type: ignore[no-untyped-def]
    values, index, quantity, equity = batch
    result = compute_batch_margins(values, index, quantity, equity, k_num, 100)
    assert result.vectorised
    assert (result.initial_margin, result.below_maintenance) == _reference(*batch, k_num, 100)


@given(batches(big=True))
def test_unsafe_magnitudes_fall_back_and_stay_exact(batch) -> None:  # type: ignore[no-untyped-def]
    result = compute_batch_margins(*batch, 1, 2)
    assert (result.initial_margin, result.below_maintenance) == _reference(*batch, 1, 2)


def test_overflowing_book_takes_the_python_path() -> None:
    values = np.array([[0, 2**40]], dtype=np.int64)
    index = np.zeros((1, 2), dtype=np.int64)
    quantity = np.array([[-(2**30), -(2**30)]], dtype=np.int64)
    result = compute_batch_margins(values, index, quantity, np.zeros(1, dtype=np.int64), 1, 2)
    assert not result.vectorised
    assert result.initial_margin == (2**71,)
