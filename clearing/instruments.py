"""Instruments from genesis: perpetuals, dated futures, options on a future.

Prices of an instrument (tick, strike, band reference) are ``Price``: settlement
base units per lot (see ``clearing/units.py``). An option's ``underlying`` is
the id of the future it is written on; one option lot is one future lot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PPM = 1_000_000
FUNDING_PERIOD_MS = 8 * 3_600_000
"""Funding rates are quoted per 8 hours (dYdX, Hyperliquid, Binance) and paid pro rata."""
DEFAULT_INTEREST_PPM = 100
"""The interest component when genesis names none: 0.01% per 8 hours (Hyperliquid, Binance)."""


class InstrumentKind(StrEnum):
    PERPETUAL = "perpetual"
    FUTURE = "future"
    OPTION = "option"


class SettlementStyle(StrEnum):
    CASH = "cash"
    PHYSICAL = "physical"  # an option exercised into a position in its future


class InstrumentStatus(StrEnum):
    """Whether an instrument trades (set by governance; an expired one trades no more
    whatever its status)."""

    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"  # a trade may only shrink each side's position
    HALTED = "halted"  # no trade at all; marks, funding and margining go on


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One listed contract; fields not meaningful for a kind are None.

    perpetual: ``funding_interval_ms`` and ``funding_interest_ppm`` (the interest
    component per 8 hours, in millionths) set, no expiry.
    future: ``expiry_ms`` set. option: ``expiry_ms``, ``strike``, ``option_type``,
    ``underlying`` = a future's id.
    """

    id: str
    kind: InstrumentKind
    underlying: str
    index_feed: str
    contract_size: str  # underlying units per lot, decimal text (descriptive)
    tick_size: int
    price_band_bps: int
    fee_bps: int
    settlement: SettlementStyle
    expiry_ms: int | None
    strike: int | None
    option_type: OptionType | None
    funding_interval_ms: int | None
    funding_interest_ppm: int | None

    def is_perpetual(self) -> bool:
        return self.kind is InstrumentKind.PERPETUAL

    def is_expired_at(self, time_ms: int) -> bool:
        return self.expiry_ms is not None and time_ms >= self.expiry_ms
