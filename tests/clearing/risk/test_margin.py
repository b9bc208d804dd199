from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.risk.arrays import RiskArrays
from clearing.risk.errors import InsufficientMargin
from clearing.risk.margin import (
    check_trade_margin,
    compute_equity,
    compute_initial_margin,
    compute_initial_margin_bound,
    compute_maintenance_margin,
    compute_scenario_losses,
    compute_trade_losses,
    compute_worst_losses,
    is_maintenance_met,
)

# SPAN risk arrays of one long S&P 500 future and one short Dec 410 call (P&L in
# dollars per contract over SPAN's 16 scenarios; the extreme moves already at 35%):
# Lawrence G. McMillan, "Options as a Strategic Investment", Part V (Index Options
# and Futures), SPAN example of a covered write, p. 670. Reproduced at
# https://git.rushg.me/rushabh/ollama-model-training-5060ti/raw/branch/main/training_data/curated/text/eaa2ffd92bca331eae3e917a1d6ee9157620637a44ce4ac68af080caef9591b0.txt
LONG_FUTURE = (0, 0, 3330, 3330, -3330, -3330, 6670, 6670, -6670, -6670,
               10000, 10000, -10000, -10000, 7000, -7000)  # fmt: skip
SHORT_CALL = (-460, 610, -2640, -1730, 1270, 2340, -5210, -4540, 2540, 3430,
              -8060, -7640, 3380, 3990, -3130, 1500)  # fmt: skip
SPAN_ARRAYS = RiskArrays(
    epoch=0,
    instrument_ids=("SP-C410", "SP-FUT"),
    scenario_labels=("base", *(str(n) for n in range(1, 17))),
    values=((0, *(-v for v in SHORT_CALL)), (0, *LONG_FUTURE)),
)


def test_mcmillan_span_covered_write() -> None:
    covered = compute_scenario_losses({"SP-FUT": 1, "SP-C410": -1}, SPAN_ARRAYS)
    assert compute_initial_margin(covered) == 6620  # scenario 13: down 3/3, vol up
    assert covered.index(6620) == 13
    assert compute_initial_margin(compute_scenario_losses({"SP-FUT": 1}, SPAN_ARRAYS)) == 10000
    assert compute_initial_margin(compute_scenario_losses({"SP-C410": -1}, SPAN_ARRAYS)) == 8060


def test_incremental_losses_equal_full_recompute() -> None:
    before = compute_scenario_losses({"SP-FUT": 3}, SPAN_ARRAYS)
    after = compute_trade_losses(before, SPAN_ARRAYS.row("SP-C410"), -2)
    assert after == compute_scenario_losses({"SP-FUT": 3, "SP-C410": -2}, SPAN_ARRAYS)


def test_maintenance_rounds_against_member() -> None:
    assert compute_maintenance_margin(6621, 1, 2) == 3311
    assert is_maintenance_met(3311, 6621, 1, 2) and not is_maintenance_met(3310, 6621, 1, 2)


def test_equity_uses_haircut_weight_per_quantum() -> None:
    assert compute_equity(-50, {(1, b"a"): 3, (1, b"b"): 2}, {(1, b"a"): 10, (1, b"b"): 7}) == -6


def test_pre_trade_rule() -> None:
    check_trade_margin(b"m", 0, equity_after=100, im_before=50, im_after=100)
    check_trade_margin(b"m", 0, equity_after=10, im_before=500, im_after=400)  # reduces risk
    with pytest.raises(InsufficientMargin) as info:
        check_trade_margin(b"m", 0, equity_after=99, im_before=50, im_after=100)
    assert (info.value.equity, info.value.initial_margin_before, info.value.initial_margin) == (
        99, 50, 100)  # fmt: skip


def test_incremental_update_refuses_a_row_of_another_scenario_set() -> None:
    with pytest.raises(ValueError):
        compute_trade_losses((1, 2, 3), (1, 2), 5)


@given(st.integers(-50, 50), st.integers(-50, 50))
def test_the_initial_margin_bound_is_never_below_initial_margin(call: int, future: int) -> None:
    positions = {"SP-C410": call, "SP-FUT": future}
    worst = compute_worst_losses(SPAN_ARRAYS)
    assert worst == {"SP-C410": 8060, "SP-FUT": 10000}
    im = compute_initial_margin(compute_scenario_losses(positions, SPAN_ARRAYS))
    bound = compute_initial_margin_bound(positions, worst)
    assert im <= bound
