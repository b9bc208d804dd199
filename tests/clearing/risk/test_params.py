from __future__ import annotations

import pytest

from clearing.errors import GenesisError
from clearing.risk.params import parse_risk_params
from tests.clearing.risk.sample import risk_section


def test_sample_section_parses() -> None:
    p = parse_risk_params(risk_section(backstops=[{"member": "0x" + "ab" * 20, "sub_account": 3}]))
    assert p.backstops == ((b"\xab" * 20, 3),)
    assert (p.k_num, p.k_den) == (1, 2)
    assert [u.name for u in p.underlyings] == ["BTC", "ETH", "SOL"]
    assert p.stress_days[0].moves_bps == (("BTC", -3900), ("ETH", -4300))
    assert p.pricing_interval_ms == 1  # absent: options priced at each block's own time
    day = parse_risk_params(risk_section(pricing_interval_ms=86_400_000))
    assert day.pricing_interval_ms == 86_400_000


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"k_num": 2}, "risk.k_num"),  # k must be < 1
        ({"k_num": 0}, "risk.k_num"),
        ({"k_den": "2"}, "risk.k_den"),
        ({"price_steps": True}, "risk.price_steps"),
        ({"surprise": 1}, "risk.surprise"),
        ({"underlyings": {}}, "risk.underlyings"),
        ({"underlyings": {"BTC": {"group": "g", "scan_bps": 0, "vol_bps": 1,
                                  "vol_scan_bps": 0, "floor_bps": 0}}},
         "risk.underlyings.BTC.scan_bps"),
        ({"stress_days": [{"label": "x", "moves_bps": {"DOGE": 1}}]},
         "risk.stress_days[0].moves_bps.DOGE"),
        ({"liquidation": {"penalty_bps": 10, "fee_bps": 20, "max_per_block": 1,
                          "partial_steps": 1}}, "risk.liquidation.fee_bps"),
        ({"max_scenarios": 20}, "risk.max_scenarios"),  # 17 * 17 + 1 scenarios needed
        ({"pricing_interval_ms": 0}, "risk.pricing_interval_ms"),
        ({"pricing_interval_ms": 86_400_001}, "risk.pricing_interval_ms"),  # past a day
        ({"pricing_interval_ms": 1.5}, "risk.pricing_interval_ms"),
        ({"backstops": [{"member": "0x12", "sub_account": 0}]}, "risk.backstops[0].member"),
        ({"backstops": [{"member": "ab" * 21, "sub_account": 0}]}, "risk.backstops[0].member"),
        ({"backstops": [{"member": "0x" + "zz" * 20, "sub_account": 0}]},
         "risk.backstops[0].member"),
        ({"backstops": {"member": "0x12"}}, "risk.backstops"),
        # the clearing house's own accounts are outside the margin rules
        ({"backstops": [{"member": "0x" + "00" * 20, "sub_account": 1}]},
         "risk.backstops[0].member"),
        ({"backstops": [{"member": "0x" + "ab" * 20, "sub_account": 0},
                        {"member": "0x" + "ab" * 20, "sub_account": 0}]}, "risk.backstops[1]"),
    ],
)  # fmt: skip
def test_bad_sections_name_the_key(overrides: dict[str, object], key: str) -> None:
    from clearing.risk.scenarios import compute_scenario_set

    with pytest.raises(GenesisError) as info:
        compute_scenario_set(parse_risk_params(risk_section(**overrides)))
    assert info.value.key == key


def test_an_extreme_move_that_takes_a_price_to_zero_is_refused() -> None:
    """Twice a 50% scan range is a -100% move: an option's value there is undefined, and
    the chain would halt on its first block (found by the TypeScript verifier's port)."""
    btc = {"group": "majors", "scan_bps": 5000, "vol_bps": 6000, "vol_scan_bps": 1500,
           "floor_bps": 50}  # fmt: skip
    underlyings = risk_section()["underlyings"]
    with pytest.raises(GenesisError) as info:
        parse_risk_params(risk_section(underlyings={**underlyings, "BTC": btc}))
    assert info.value.key == "risk.underlyings.BTC.scan_bps" and info.value.got == 5000
    assert info.value.expected.startswith("at most 4999: extreme_multiple 2 times it")
    parse_risk_params(risk_section(underlyings={**underlyings, "BTC": {**btc, "scan_bps": 4999}}))


def test_shipped_stress_days_file_feeds_the_scenario_set() -> None:
    from pathlib import Path

    from clearing.risk.params import parse_stress_days_csv
    from clearing.risk.scenarios import compute_scenario_set

    text = (Path(__file__).resolve().parents[3] / "configs" / "stress_days.csv").read_text()
    days = parse_stress_days_csv(text)
    assert days[0] == {"label": "2020-03-13", "moves_bps": {"BTC": -3520, "ETH": -4310}}
    scenarios = compute_scenario_set(parse_risk_params(risk_section(stress_days=days)))
    assert [s.label for s in scenarios.scenarios[-2:]] == ["day:2020-03-13", "day:2017-09-14"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "stress_days.csv"),
        ("label,underlying,move_bps\nx,BTC,ten\n", "stress_days.csv:2"),
        ("label,underlying,move_bps\nx,BTC,1\nx,BTC,2\n", "stress_days.csv:3"),
        ("label,underlying,move_bps\nx,BTC\n", "stress_days.csv:2"),
        ("label,underlying,move_bps\n,BTC,1\n", "stress_days.csv:2"),
    ],
)
def test_bad_stress_days_file_names_the_line(text: str, key: str) -> None:
    from clearing.risk.params import parse_stress_days_csv

    with pytest.raises(GenesisError) as info:
        parse_stress_days_csv(text)
    assert info.value.key == key
