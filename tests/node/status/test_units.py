"""Amounts in their units: exact against Decimal, thousands grouped, cut decimals marked."""

from __future__ import annotations

from decimal import Context, Decimal

from hypothesis import given
from hypothesis import strategies as st

from node.status.units import CUT_MARK, MAX_DECIMALS_SHOWN, Unit, format_exact, format_shown

USDC, WETH, LOTS = Unit("USDC", 6), Unit("WETH", 18), Unit("lots", 0)


def test_zero_small_negative_and_large_amounts() -> None:
    assert format_exact(0, USDC) == "0.00 USDC"
    assert format_exact(1, USDC) == "0.000001 USDC"
    assert format_exact(-1, USDC) == "-0.000001 USDC"
    assert format_exact(10**6, USDC) == "1.00 USDC"
    assert format_exact(-1_234_567_890_123, USDC) == "-1,234,567.890123 USDC"
    assert format_exact(1_500_000, USDC) == "1.50 USDC"  # trailing zeros kept to two
    assert format_exact(10**30 + 1, USDC) == "1,000,000,000,000,000,000,000,000.000001 USDC"
    assert format_exact(-1_000_000, LOTS) == "-1,000,000 lots"  # no point without decimals
    assert format_exact(7, Unit("", 1)) == "0.7"


def test_decimals_beyond_those_shown_are_cut_visibly_never_rounded() -> None:
    one_wei_short = 10**18 - 1
    assert format_exact(one_wei_short, WETH) == "0.999999999999999999 WETH"
    assert format_shown(one_wei_short, WETH) == f"0.999999{CUT_MARK} WETH"  # not 1.00
    assert format_shown(-1, WETH) == f"-0.000000{CUT_MARK} WETH"
    assert format_shown(10**18, WETH) == "1.00 WETH"  # nothing cut: no mark
    assert format_shown(1_250_000_000_000_000, WETH) == "0.00125 WETH"


@given(st.integers(-(10**40), 10**40), st.integers(0, 36))
def test_the_text_is_the_integer_exactly(value: int, decimals: int) -> None:
    text = format_exact(value, Unit("X", decimals))
    number, symbol = text.split(" ")
    assert symbol == "X"
    whole = number.lstrip("-").partition(".")[0]
    assert whole == f"{int(whole.replace(',', '')):,}"  # grouped by thousands
    exact = Context(prec=100)  # Decimal's default 28 digits would round the oracle itself
    assert Decimal(number.replace(",", "")) == Decimal(value).scaleb(-decimals, exact)
    shown = format_shown(value, Unit("X", decimals))
    digits = number.partition(".")[2]
    if len(digits) > MAX_DECIMALS_SHOWN:
        assert shown == f"{number[: len(number) - len(digits) + MAX_DECIMALS_SHOWN]}{CUT_MARK} X"
    else:
        assert shown == text
