"""A small market for the risk tests: BTC and ETH (one group), SOL (its own group)."""

from __future__ import annotations

from typing import Any

from clearing.instruments import Instrument, InstrumentKind, OptionType, SettlementStyle
from clearing.risk.params import RiskParams, parse_risk_params

DAY_MS = 86_400_000
T0 = 1_700_000_000_000


def risk_section(**overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "k_num": 1,
        "k_den": 2,
        "price_steps": 3,
        "extreme_multiple": 2,
        "extreme_cover_bps": 3500,
        "max_scenarios": 1024,
        "rate_bps": 0,
        "underlyings": {
            "BTC": {"group": "majors", "scan_bps": 1500, "vol_bps": 6000,
                    "vol_scan_bps": 1500, "floor_bps": 50},
            "ETH": {"group": "majors", "scan_bps": 2000, "vol_bps": 7000,
                    "vol_scan_bps": 2000, "floor_bps": 50},
            "SOL": {"group": "alts", "scan_bps": 3000, "vol_bps": 9000,
                    "vol_scan_bps": 2500, "floor_bps": 100},
        },
        "stress_days": [{"label": "synthetic", "moves_bps": {"BTC": -3900, "ETH": -4300}}],
        "liquidation": {"penalty_bps": 100, "fee_bps": 50, "max_per_block": 100,
                        "partial_steps": 10},
        "default_fund": {"cover": 2, "stress_multiple": 3},
    }  # fmt: skip
    section.update(overrides)
    return section


def params(**overrides: Any) -> RiskParams:
    return parse_risk_params(risk_section(**overrides))


def perp(iid: str, underlying: str) -> Instrument:
    return Instrument(iid, InstrumentKind.PERPETUAL, underlying, underlying, "1", 1, 1000, 5,
                      SettlementStyle.CASH, None, None, None, 28_800_000, 100)  # fmt: skip


def future(iid: str, underlying: str, expiry_ms: int) -> Instrument:
    return Instrument(iid, InstrumentKind.FUTURE, underlying, underlying, "1", 1, 1000, 5,
                      SettlementStyle.CASH, expiry_ms, None, None, None, None)  # fmt: skip


def option(iid: str, future_id: str, strike: int, kind: OptionType, expiry_ms: int) -> Instrument:
    return Instrument(iid, InstrumentKind.OPTION, future_id, "BTC", "1", 1, 1000, 5,
                      SettlementStyle.CASH, expiry_ms, strike, kind, None, None)  # fmt: skip


INSTRUMENTS = (
    perp("BTC-PERP", "BTC"),
    perp("ETH-PERP", "ETH"),
    perp("SOL-PERP", "SOL"),
    future("BTC-FUT", "BTC", T0 + 90 * DAY_MS),
    option("BTC-C60", "BTC-FUT", 60_000_000_000, OptionType.CALL, T0 + 30 * DAY_MS),
    option("BTC-P55", "BTC-FUT", 55_000_000_000, OptionType.PUT, T0 + 30 * DAY_MS),
)
# Prices are settlement base units (USDC 1e-6) per lot of 1 coin.
MARKS = {
    "BTC-PERP": 60_000_000_000,
    "ETH-PERP": 3_000_000_000,
    "SOL-PERP": 150_000_000,
    "BTC-FUT": 60_500_000_000,
    "BTC-C60": 4_000_000_000,
    "BTC-P55": 1_500_000_000,
}


def genesis_risk_section(**overrides: Any) -> dict[str, Any]:
    """A risk section for configs/genesis.example.json (BTC and ETH, one group)."""
    section = risk_section(
        underlyings={
            "BTC": {"group": "majors", "scan_bps": 1500, "vol_bps": 6000,
                    "vol_scan_bps": 1500, "floor_bps": 50},
            "ETH": {"group": "majors", "scan_bps": 2000, "vol_bps": 7000,
                    "vol_scan_bps": 2000, "floor_bps": 50},
        },
        # configs/stress_days.csv (CoinGecko): 2020-03-13 BTC -35.2%, ETH -43.1%
        stress_days=[{"label": "2020-03-13", "moves_bps": {"BTC": -3520, "ETH": -4310}}],
        default_fund={"cover": 2, "stress_multiple": 2},
    )  # fmt: skip
    section.update(overrides)
    return section
