"""Netting algebra of clearing/position.py: opening, adding, reducing, flipping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.position import compute_fill, compute_unrealised


def fold(fills: list[tuple[int, int]]) -> tuple[int, int, int]:
    quantity = average = realised = 0
    for fill_quantity, price in fills:
        quantity, average, booked = compute_fill(quantity, average, fill_quantity, price)
        realised += booked
    return quantity, average, realised


def test_opening_a_flat_position_takes_the_fill_price() -> None:
    assert compute_fill(0, 0, 5, 100) == (5, 100, 0)
    assert compute_fill(0, 0, -5, 100) == (-5, 100, 0)


def test_adding_floors_the_average_and_books_the_remainder() -> None:
    # cost 1*100 + 2*101 = 302 over 3 lots: average floor(100.67) = 100, remainder 2
    assert compute_fill(1, 100, 2, 101) == (3, 100, -2)
    # short: cost -302 over -3 lots: floor(100.67) = 100, short entry lower, remainder +2
    assert compute_fill(-1, 100, -2, 101) == (-3, 100, 2)


def test_reducing_keeps_the_average_and_realises_the_closed_lots() -> None:
    assert compute_fill(10, 100, -4, 110) == (6, 100, 40)
    assert compute_fill(-10, 100, 4, 110) == (-6, 100, -40)


def test_closing_exactly_leaves_a_flat_position() -> None:
    assert compute_fill(10, 100, -10, 90) == (0, 0, -100)


def test_crossing_zero_closes_then_opens_at_the_fill_price() -> None:
    assert compute_fill(3, 100, -5, 120) == (-2, 120, 60)
    assert compute_fill(-3, 100, 5, 120) == (2, 120, -60)


def test_unrealised_is_quantity_times_distance_from_entry() -> None:
    assert compute_unrealised(-3, 100, 90) == 30


fills = st.lists(
    st.tuples(
        st.integers(-1_000, 1_000).filter(lambda q: q != 0),
        st.integers(1, 10**9),
    ),
    max_size=30,
)


@given(fills, st.integers(1, 10**9))
def test_realised_plus_unrealised_equals_exact_pnl(fills: list[tuple[int, int]], mark: int) -> None:
    quantity, average, realised = fold(fills)
    exact = sum(q * (mark - p) for q, p in fills)
    assert realised + compute_unrealised(quantity, average, mark) == exact


@given(fills, st.randoms(use_true_random=False), st.integers(1, 10**9))
def test_order_of_fills_changes_neither_quantity_nor_total_pnl(
    fills: list[tuple[int, int]], rng: object, mark: int
) -> None:
    shuffled = list(fills)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    q1, a1, r1 = fold(fills)
    q2, a2, r2 = fold(shuffled)
    assert q1 == q2 == sum(q for q, _ in fills)
    assert r1 + compute_unrealised(q1, a1, mark) == r2 + compute_unrealised(q2, a2, mark)


@given(fills)
def test_flat_position_has_zero_average_and_open_one_a_price_within_its_fills(
    fills: list[tuple[int, int]],
) -> None:
    quantity, average, _ = fold(fills)
    if quantity == 0:
        assert average == 0
    elif fills:
        assert min(p for _, p in fills) <= average <= max(p for _, p in fills)
