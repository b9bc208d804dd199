from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext

from hypothesis import given
from hypothesis import strategies as st

from clearing.risk.black76 import CONTEXT, compute_black76, compute_option_value, normal_cdf

Q6 = D("0.000001")


def test_hull_futures_option_example() -> None:
    # MathWorks Financial Toolbox, "blkprice: Black model for pricing futures options",
    # example after Hull, Options, Futures, and Other Derivatives (5th ed.) pp. 287-288:
    # F = K = 20, r = 9%, T = 4 months, sigma = 25% -> Call = Put = 1.1166.
    # https://www.mathworks.com/help/finance/blkprice.html
    years = D(4) / D(12)
    call = compute_black76(D(20), D(20), D("0.25"), years, D("0.09"), True)
    put = compute_black76(D(20), D(20), D("0.25"), years, D("0.09"), False)
    assert call.price.quantize(D("0.0001")) == D("1.1166")
    assert put.price.quantize(D("0.0001")) == D("1.1166")


def test_py_vollib_black_greeks() -> None:
    # py_vollib, black/greeks/analytical.py doctests (F=49, K=50, r=5%, t=0.3846,
    # sigma=20%, call): delta 0.45107017482201828, gamma 0.0640646705882,
    # vega 0.118317785624 per vol point (py_vollib divides by 100).
    # https://github.com/vollib/py_vollib/blob/master/py_vollib/black/greeks/analytical.py
    g = compute_black76(D(49), D(50), D("0.2"), D("0.3846"), D("0.05"), True)
    assert abs(g.delta - D("0.45107017482201828")) < Q6
    assert abs(g.gamma - D("0.0640646705882")) < Q6
    assert abs(g.vega / 100 - D("0.118317785624")) < Q6


def test_normal_cdf_reference_points() -> None:
    assert normal_cdf(D(0)) == D("0.5")
    assert abs(normal_cdf(D("1.96")) - D("0.975002104851780")) < D("1e-15")
    assert abs(normal_cdf(D(-8)) - D("6.22096057427178e-16")) < D("1e-29")
    assert normal_cdf(D(13)) == 1 and normal_cdf(D(-13)) == 0


@given(
    st.integers(1, 10**6), st.integers(1, 10**6), st.integers(100, 30_000),
    st.integers(1, 400), st.integers(0, 2000),
)  # fmt: skip
def test_put_call_parity(forward: int, strike: int, vol_bps: int, days: int, rate: int) -> None:
    years, vol, r = D(days) / D(365), D(vol_bps) / 10_000, D(rate) / 10_000
    call = compute_black76(D(forward), D(strike), vol, years, r, True).price
    put = compute_black76(D(forward), D(strike), vol, years, r, False).price
    with localcontext(CONTEXT):
        parity = (-r * years).exp() * (D(forward) - D(strike))
        assert abs(call - put - parity) < D("1e-30") * (forward + strike)


def test_expired_option_is_intrinsic() -> None:
    assert compute_option_value(120, 100, 5000, 0, 0, True) == 20
    assert compute_option_value(120, 100, 5000, -5, 0, False) == 0
