from hypothesis import given
from hypothesis import strategies as st

from clearing.units import (
    apply_bps_ceil,
    apply_bps_floor,
    div_ceil,
    div_floor,
    mul_div_ceil,
    mul_div_floor,
)

ints = st.integers(-(2**96), 2**96)
positive = st.integers(1, 2**64)


@given(ints, positive)
def test_div_floor_and_ceil_bracket_the_quotient(a: int, b: int) -> None:
    lo, hi = div_floor(a, b), div_ceil(a, b)
    assert lo * b <= a <= hi * b
    assert hi - lo == (0 if a % b == 0 else 1)


def test_rounding_direction_on_negatives() -> None:
    assert div_floor(-7, 2) == -4
    assert div_ceil(-7, 2) == -3
    assert mul_div_floor(-3, 5, 4) == -4
    assert mul_div_ceil(-3, 5, 4) == -3


def test_bps_helpers() -> None:
    assert apply_bps_floor(10_001, 5) == 5
    assert apply_bps_ceil(10_001, 5) == 6
    assert apply_bps_ceil(20_000, 5) == 10
