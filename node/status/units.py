"""Amounts as a person reads them: the unit's decimals from genesis, thousands grouped,
the unit's symbol beside it. Integer arithmetic only (divmod by 10**decimals), so the
text is the ledger's integer exactly; a figure with more decimals than the page shows
says so (a trailing ellipsis, the exact figure beside it).
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_DECIMALS_SHOWN = 2
"""Whole amounts still read as money: 1,000.00 rather than 1,000."""
MAX_DECIMALS_SHOWN = 6
"""Beyond this an 18-decimal token's figures stop being readable; the rest is marked cut."""
CUT_MARK = "…"


@dataclass(frozen=True, slots=True)
class Unit:
    """An integer amount's meaning: `10**decimals` of it make one `symbol`."""

    symbol: str
    decimals: int


def format_count(value: int) -> str:
    return f"{value:,}"


def format_exact(value: int, unit: Unit) -> str:
    """Every decimal of `value`: trailing zeros dropped down to MIN_DECIMALS_SHOWN."""
    whole, fraction = divmod(abs(value), 10**unit.decimals)
    digits = str(fraction).rjust(unit.decimals, "0").rstrip("0")
    digits = digits.ljust(min(MIN_DECIMALS_SHOWN, unit.decimals), "0")
    sign = "-" if value < 0 else ""
    point = "." if digits else ""
    return f"{sign}{whole:,}{point}{digits} {unit.symbol}".rstrip()


def format_shown(value: int, unit: Unit) -> str:
    """`format_exact`, its decimals cut after MAX_DECIMALS_SHOWN with CUT_MARK where any
    digit is cut (toward zero: what is shown is a prefix of the exact figure)."""
    exact = format_exact(value, unit)
    number, _, symbol = exact.partition(" ")
    whole, point, digits = number.partition(".")
    if len(digits) <= MAX_DECIMALS_SHOWN:
        return exact
    return f"{whole}{point}{digits[:MAX_DECIMALS_SHOWN]}{CUT_MARK} {symbol}".rstrip()
