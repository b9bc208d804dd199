"""The simulator is a pure function of time: the same on every validator, bounded, with a
scheduled shock; validators sampling at slightly different times agree on a sane median."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.oracle import compute_weighted_median
from node.oracle.sources import SIMULATOR_WINDOW, SimulatedSource, build_source
from node.oracle_config import OracleSourceConfig

START = 60_000_000
SHOCK_AT = 1_767_225_600_000
STEP_BPS = 20


def simulator(shock_bps: int = -3_000, step_ms: int = 1_000) -> SimulatedSource:
    return SimulatedSource(
        {"BTC/0.001": START}, 7, STEP_BPS, lambda: 0, step_ms, SHOCK_AT, shock_bps
    )


def test_config_builds_the_same_path_on_every_validator() -> None:
    config = OracleSourceConfig(
        kind="simulator", symbols=("BTC/0.001",), seed=7, start_prices=(START,),
        max_step_bps=STEP_BPS, shock_at_ms=SHOCK_AT, shock_bps=-3_000,
    )  # fmt: skip
    built = build_source(config, clock_ms=lambda: SHOCK_AT + 5)
    assert isinstance(built, SimulatedSource)
    assert built.get_price("BTC/0.001", SHOCK_AT + 5) == simulator().get_price(
        "BTC/0.001", SHOCK_AT + 5
    )


def test_shock_applies_from_its_time_on() -> None:
    source, plain = simulator(), simulator(shock_bps=0)
    before = source.get_price("BTC/0.001", SHOCK_AT - 1)
    assert before == plain.get_price("BTC/0.001", SHOCK_AT - 1)
    for t in (SHOCK_AT, SHOCK_AT + 1, SHOCK_AT + 60_000):
        unshocked = plain.get_price("BTC/0.001", t)
        assert source.get_price("BTC/0.001", t) == unshocked * 7_000 // 10_000


@given(st.integers(0, 2**41), st.integers(1, 5_000))
def test_path_is_bounded_and_moves_little_per_step(t: int, step_ms: int) -> None:
    source = simulator(shock_bps=0, step_ms=step_ms)
    now, later = source.get_price("BTC/0.001", t), source.get_price("BTC/0.001", t + step_ms)
    assert abs(now - START) <= START * SIMULATOR_WINDOW * STEP_BPS // 10_000
    assert abs(later - now) <= START * 2 * STEP_BPS // 10_000 + 1


@given(
    st.integers(SHOCK_AT - 3_000, SHOCK_AT + 3_000),
    st.lists(st.integers(0, 999), min_size=4, max_size=4),
)
def test_validators_sampling_within_a_second_agree_on_a_sane_median(
    base: int, offsets: list[int]
) -> None:
    """Four validators sample up to 999 ms apart, possibly straddling the shock: the median
    is the path's price (shocked or not) give or take two steps."""
    source, plain = simulator(), simulator(shock_bps=0)
    median = compute_weighted_median(
        [(source.get_price("BTC/0.001", base + o), 10) for o in offsets]
    )
    candidates = [plain.get_price("BTC/0.001", base), source.get_price("BTC/0.001", base + 999)]
    tolerance = START * 2 * STEP_BPS // 10_000 + 1
    assert any(abs(median - c) <= tolerance for c in candidates)
