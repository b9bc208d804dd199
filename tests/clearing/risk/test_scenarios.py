from __future__ import annotations

from fractions import Fraction

from clearing.risk.scenarios import compute_scenario_set, compute_span_grid
from tests.clearing.risk.sample import params

# SPAN's sixteen risk scenarios (price move in multiples of the price scan
# range, volatility move, fraction of loss considered), as tabulated in
# "Financial Derivatives" (DCOM510, Lovely Professional University), Table 12.1,
# http://eslm.lpude.in/commerce/mcom/term_4/DCOM510_FINANCIAL_DERIVATIVES/files/basic-html/page193.html
SPAN_TABLE = [
    (0, 1, 100), (0, -1, 100), ("1/3", 1, 100), ("1/3", -1, 100), ("-1/3", 1, 100),
    ("-1/3", -1, 100), ("2/3", 1, 100), ("2/3", -1, 100), ("-2/3", 1, 100), ("-2/3", -1, 100),
    (1, 1, 100), (1, -1, 100), (-1, 1, 100), (-1, -1, 100), (2, 0, 35), (-2, 0, 35),
]  # fmt: skip


def test_group_grid_is_base_then_span_table() -> None:
    grid = compute_span_grid(steps=3, extreme_multiple=2, extreme_cover_bps=3500)
    assert grid[0].scan_multiple == 0 and grid[0].vol_direction == 0
    got = [(p.scan_multiple, p.vol_direction, p.cover_bps // 100) for p in grid[1:]]
    assert got == [(Fraction(str(m)), v, c) for m, v, c in SPAN_TABLE]


def test_joint_set_is_product_of_groups_plus_stress_days() -> None:
    s = compute_scenario_set(params())
    assert s.underlyings == ("BTC", "ETH", "SOL")
    assert len(s.scenarios) == 17 * 17 + 1
    base = s.scenarios[0]
    assert all(m.price == 0 and m.vol_shift_bps == 0 for m in base.moves)
    # BTC and ETH (one group) always move the same fraction of their scan range.
    for sc in s.scenarios[:-1]:
        btc, eth, _ = sc.moves
        assert btc.price / Fraction(1500, 10_000) == eth.price / Fraction(2000, 10_000)
    # Somewhere BTC falls while SOL rises: the groups are independent.
    assert any(sc.moves[0].price < 0 < sc.moves[2].price for sc in s.scenarios)
    day = s.scenarios[-1]
    assert day.label == "day:synthetic"
    assert [m.price for m in day.moves] == [Fraction(-39, 100), Fraction(-43, 100), 0]
