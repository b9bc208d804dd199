"""The clearing house in the open (node/api/house.py) and on the status page."""

from __future__ import annotations

from clearing.default.house import HOUSE
from clearing.state import get_sub_account_for_write
from node.api.house import get_clearing_house_status
from node.status.alerts import get_halt_alerts
from node.status.page import render_clearing_house
from node.status.units import Unit, format_shown
from tests.clearing.default.test_crash_ledger import A, B, C, D, crash_box, trades


def test_the_default_fund_its_sizing_and_the_insurance_fund_are_served() -> None:
    box = crash_box(assessment_cap_bps=5_000)
    trades(box)
    box.apply([])  # the epoch sizes the default fund
    status = get_clearing_house_status(box.state, detailed=True)
    df = status["default_fund"]
    public = get_clearing_house_status(box.state)["default_fund"]
    assert "cover_losses" not in public  # type: ignore[operator]
    # A and B are short of their parts: required less posted would be two members' gaps
    assert public == {  # type: ignore[comparison-overlap]
        **{k: v for k, v in df.items() if k != "cover_losses"},  # type: ignore[union-attr]
        "posted": None,
        "withheld": {"posted": "withheld: its difference to another figure shown is "
                     "fewer than 3 members'"},
    }  # fmt: skip
    members = [box.state.members[m.address] for m in (A, B, C, D)]
    assert df["posted"] == sum(m.default_fund for m in members)  # type: ignore[index]
    assert df["required"] == sum(m.default_fund_required for m in members)  # type: ignore[index]
    losses = df["cover_losses"]  # type: ignore[index]
    assert len(losses) == df["cover"] == 2 and losses == sorted(losses, reverse=True)  # type: ignore[index]
    assert df["required"] == sum(losses)  # type: ignore[index]
    assert df["assessment_cap_bps"] == 5_000  # type: ignore[index]
    assert status["insurance_fund"]["cash"] == box.state.insurance_fund  # type: ignore[index]
    assert not status["withdrawals_halted"]


def test_a_halt_is_served_and_shown_first() -> None:
    box = crash_box()
    get_sub_account_for_write(box.state, *HOUSE).cash = -box.state.insurance_fund - 42
    status = get_clearing_house_status(box.state)
    assert status["withdrawals_halted"] and status["uncovered_deficit"] == 42
    asset = box.genesis.settlement_asset
    (alert,) = get_halt_alerts(status, Unit(asset.symbol, asset.decimals))
    deficit = format_shown(42, Unit(asset.symbol, asset.decimals))
    assert alert.kind == "withdrawals-halted"
    assert f"defaults cost {deficit} more than the waterfall held" in alert.text


def test_the_insurance_fund_is_served_per_chain_where_its_tokens_are() -> None:
    box = crash_box()  # 50 USD deposited to the house on chain 31337 seed the fund
    trades(box)  # fees add to it
    fund = get_clearing_house_status(box.state)["insurance_fund"]
    assert fund["cash"] == box.state.insurance_fund > 50_000_000  # type: ignore[index]
    in_vaults = fund["cash_in_vaults"]  # type: ignore[index]
    assert sum(in_vaults.values()) + fund["cash_owed"] == fund["cash"]  # type: ignore[index]
    reserves = box.state.settlement_reserves
    assert all(0 < v <= reserves[int(c)] for c, v in in_vaults.items())
    money = Unit(box.genesis.settlement_asset.symbol, box.genesis.settlement_asset.decimals)
    page = render_clearing_house(get_clearing_house_status(box.state), money)
    assert f"{format_shown(in_vaults['31337'], money)} in chain 31337&#x27;s vault" in page
