from __future__ import annotations

import pytest

from clearing.risk.arrays import (
    RiskArrays,
    compute_floored_row,
    compute_risk_arrays,
    get_pricing_time_ms,
)
from clearing.risk.margin import compute_initial_margin, compute_scenario_losses
from clearing.risk.params import RiskParams
from clearing.risk.scenarios import compute_scenario_set
from tests.clearing.risk.sample import INSTRUMENTS, MARKS, T0, params


@pytest.fixture(scope="module")
def arrays() -> RiskArrays:
    p = params()
    return compute_risk_arrays(7, compute_scenario_set(p), INSTRUMENTS, MARKS, p, T0)


def test_perpetual_row_is_price_times_move(arrays: RiskArrays) -> None:
    row = arrays.row("BTC-PERP")
    assert row[0] == 0
    assert max(row) == 60_000_000_000 * 15 // 100  # +1 scan range = +15%
    assert min(row[:-1]) == -9_000_000_000
    assert row[-1] == -23_400_000_000  # synthetic stress day: -39%
    # extreme +2 ranges at 35% cover: 0.30 * 0.35 * price
    assert 6_300_000_000 in row


def test_options_move_with_their_future(arrays: RiskArrays) -> None:
    call, put, fut = arrays.row("BTC-C60"), arrays.row("BTC-P55"), arrays.row("BTC-FUT")
    for s in range(arrays.scenario_count):
        if fut[s] > 0:
            assert call[s] > put[s]
    assert (
        arrays.values
        == compute_risk_arrays(
            7, compute_scenario_set(params()), INSTRUMENTS, MARKS, params(), T0
        ).values
    )  # deterministic


def test_correlated_hedge_offsets_and_independent_groups_do_not() -> None:
    p = params(stress_days=[])
    arrays = compute_risk_arrays(7, compute_scenario_set(p), INSTRUMENTS, MARKS, p, T0)

    def im(pos: dict[str, int]) -> int:
        return compute_initial_margin(compute_scenario_losses(pos, arrays))

    btc, eth, sol = {"BTC-PERP": 1}, {"ETH-PERP": -20}, {"SOL-PERP": -400}
    assert im({**btc, **eth}) < im(btc) + im(eth)  # same group: offset
    assert im({**btc, **sol}) == im(btc) + im(sol)  # independent groups: add up


def test_floor_deepens_both_directions() -> None:
    assert compute_floored_row((0, 1, -1, 0), 5) == (0, 5, -5, 0)
    assert compute_floored_row((0, 0, 0), 5) == (0, -5, 5)
    assert compute_floored_row((0, 9, -9), 5) == (0, 9, -9)


def test_options_are_priced_at_the_block_time_floored_to_the_pricing_interval() -> None:
    """Within one interval every block gets the arrays of its start; the next interval's
    first millisecond moves the options' rows and no other."""
    p = params(pricing_interval_ms=60_000)
    scenarios = compute_scenario_set(p)
    start = T0 - T0 % 60_000
    assert get_pricing_time_ms(p, start + 59_999) == start == get_pricing_time_ms(p, start)

    def at(time_ms: int, q: RiskParams = p) -> RiskArrays:
        return compute_risk_arrays(7, scenarios, INSTRUMENTS, MARKS, q, time_ms)

    first, last, next_ = at(start), at(start + 59_999), at(start + 60_000)
    assert first.values == last.values
    moved = {i for i in first.instrument_ids if first.row(i) != next_.row(i)}
    assert moved == {"BTC-C60", "BTC-P55"}
    assert at(start + 59_999, params()).values != last.values  # the default, 1: exact time
