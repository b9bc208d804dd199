from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import is_maintenance_met
from clearing.risk.queries import (
    MarginCallStatus,
    compute_liquidation_price,
    get_account_risk,
    get_liquidation_price,
    get_margin_call_status,
)
from clearing.state import MarginCall

ARRAYS = RiskArrays(1, ("X", "Y"), ("base", "up", "down"), ((0, 100, -100), (0, 30, -30)))
KEY = (1, b"\x01" * 20)


def test_dydx_isolated_liquidation_price_example() -> None:
    # dYdX Chain docs, "Liquidations" -> "Isolated Liquidation Price":
    # p' = (e - s*p) / (|s|*MMF - s); deposit e = $1,000, short s = -3 ETH at p = $3,000,
    # MMF = 5% -> p' = 10,000 / 3.15 = $3,174.60.
    # https://docs.dydx.exchange/concepts/trading/liquidations (mirror:
    # https://dydx-documentation-six.vercel.app/concepts/trading/liquidations)
    # Prices in cents; dYdX's maintenance requirement |s| * p' * 5% moves with the price.
    e, s, p = 100_000, -3, 300_000

    def is_met_at(price: int) -> bool:
        return 100 * (e + s * (price - p)) >= 5 * abs(s) * price

    assert compute_liquidation_price(s, p, is_met_at) == 317_461  # first cent past 3,174.603


def test_account_figures_and_liquidation_price_match_the_engine() -> None:
    risk = get_account_risk(1_000, {KEY: 10}, {KEY: 50}, {"X": 10, "Y": -5}, {"X": 5_000, "Y": 900},
                            ARRAYS, 1, 2)  # fmt: skip
    # equity 1,500; L_up = -1000 + 150 = -850, L_down = 1000 - 150 = 850 -> IM 850, MM 425
    assert (risk.equity, risk.initial_margin, risk.maintenance_margin) == (1500, 850, 425)
    assert risk.free_collateral == 650
    prices = dict(risk.liquidation_prices)
    assert prices["X"] == 4_892  # 1500 + 10*(p-5000) < 425  <=>  p < 4892.5
    assert prices["Y"] == 1_116  # 1500 - 5*(p-900) < 425  <=>  p > 1115


@given(st.integers(-10**6, 10**7), st.integers(0, 10**6), st.integers(-1000, 1000).filter(bool),
       st.integers(1, 10**6), st.integers(1, 9))  # fmt: skip
def test_liquidation_price_is_where_the_engine_check_flips(
    equity: int, im: int, q: int, mark: int, k_num: int
) -> None:
    price = get_liquidation_price(equity, im, q, mark, k_num, 10)

    def met(p: int) -> bool:
        return is_maintenance_met(equity + q * (p - mark), im, k_num, 10)

    if price is None:
        assert met(1 if q > 0 else 2**64)
        return
    assert not met(price)
    if price != mark:
        assert met(price + 1 if q > 0 else price - 1)


def test_margin_call_status_counts_the_blocks_left_down_to_zero() -> None:
    call = MarginCall(amount_due=7, opened_height=10, deadline_height=13)
    assert get_margin_call_status(None, 11) is None
    assert get_margin_call_status(call, 10) == MarginCallStatus(7, 10, 13, 3)
    assert get_margin_call_status(call, 13) == MarginCallStatus(7, 10, 13, 0)
    assert get_margin_call_status(call, 15) == MarginCallStatus(7, 10, 13, 0)  # liquidation due
