"""Each kind of alert on real clearing states, on top of the page; none when all is well."""

from __future__ import annotations

from typing import Any

from bridge.rotation import get_consensus_set
from bridge.validators import EvmValidatorSet
from clearing.default.house import HOUSE
from clearing.state import get_member_for_write, get_sub_account_for_write
from clearing.upgrade_plan import UpgradePlan
from devnet.sandbox import Sandbox
from node.api.node_interface import get_blocks_left
from node.liveness import BEHIND_WARNING_BLOCKS, CommitWatch
from node.metrics import NodeMetrics
from node.status.alerts import get_alerts
from node.status.journal import Journal
from node.status.overview import ReportStatus, build_overview, get_health
from node.status.page import render_status_page
from node.status.units import Unit, format_shown
from node.status.vaults import VaultView
from node.status.verdict import check_report
from tests.clearing.support import USDC
from tests.node.status.test_overview import ALICE, BOB, traded_sandbox


def overview_of(
    box: Sandbox,
    *,
    detailed: bool = False,
    vaults: dict[int, VaultView] | None = None,
    report: ReportStatus | None = None,
) -> dict[str, Any]:
    return build_overview("n", box.state, Journal(), vaults or {}, report, detailed=detailed)


def texts(overview: dict[str, Any]) -> dict[str, str]:
    return {a.kind: a.text for a in get_alerts(overview)}


def test_all_well_is_no_alerts() -> None:
    overview = overview_of(traded_sandbox(), report=lambda: {"verdict": "VALID"})
    assert get_alerts(overview) == []
    page = render_status_page(overview, 0)
    assert "<p id='alerts'>no alerts</p>" in page and "class='alert" not in page


def test_the_nodes_health_warnings_a_node_far_behind_included() -> None:
    watch = CommitWatch(10_000, 7, lambda: False, clock_s=lambda: 100.0)
    watch.observe_peer_height(7 + BEHIND_WARNING_BLOCKS + 3)
    overview = {**overview_of(traded_sandbox()), "health": watch.get_health(), "peers": 3}
    assert texts(overview) == {"health": "7 blocks behind the best peer (14)"}
    page = render_status_page(overview, 0)
    assert page.index("id='alerts'") < page.index("id='chart-height'")  # on top
    assert "7 blocks behind the best peer (14)</li>" in page


def test_withdrawals_halted_with_the_deficit_in_its_unit() -> None:
    box = traded_sandbox()
    get_sub_account_for_write(box.state, *HOUSE).cash = -box.state.insurance_fund - 1_500_042
    asset = box.genesis.settlement_asset.symbol
    assert texts(overview_of(box))["withdrawals-halted"] == (
        f"withdrawals halted: defaults cost 1.500042 {asset} more than the waterfall held"
    )


def test_an_upgrade_scheduled_with_its_countdown_in_blocks() -> None:
    box = traded_sandbox()
    box.state.upgrade_plan = UpgradePlan("v0.3.0", box.state.height + 12_000, "0.3.0")
    overview = overview_of(box)
    assert overview["upgrade"]["planned"]["blocks_left"] == 12_000
    assert texts(overview) == {
        "upgrade": "upgrade v0.3.0 at height "
        f"{box.state.height + 12_000}, in 12,000 blocks: it needs release 0.3.0"
    }
    metrics = NodeMetrics("n")
    metrics.watch_upgrade(lambda: get_blocks_left(box.state))
    assert b"clearnode_upgrade_blocks_left 12000.0" in metrics.render()
    box.state.upgrade_plan = None
    assert b"clearnode_upgrade_blocks_left -1.0" in metrics.render()


def test_an_invalid_report_and_one_the_verifier_could_not_check() -> None:
    box = traded_sandbox()
    invalid = check_report(b"\x01junk", None, [], box.chain_id, None)
    text = texts(overview_of(box, report=lambda: invalid))["report"]
    assert text.startswith("the latest solvency report (epoch ?) is INVALID: undecodable")
    failed = {"verdict": "NOT CHECKED", "epoch": 4, "failures": ["the verifier failed: X"]}
    assert texts(overview_of(box, report=lambda: failed))["report"] == (
        "the latest solvency report (epoch 4) was not checked: the verifier failed: X"
    )


def test_an_unreadable_vault_and_one_not_on_the_consensus_set() -> None:
    box = traded_sandbox()
    consensus = get_consensus_set(box.state)
    short = EvmValidatorSet.from_members(3, consensus[:-1])
    unread = VaultView("one", USDC[0], "0xvault", {}, "ConnectionError: refused", 1, short)
    alerts = get_alerts(overview_of(box, vaults={USDC[0]: unread}))
    assert [(a.kind, a.text) for a in alerts] == [
        ("chain-read", f"chain {USDC[0]} (one): the vault could not be read "
                       "(ConnectionError: refused); its balances shown are the last read"),
        ("vault-set", f"chain {USDC[0]} (one): the vault trusts validator set epoch 3 "
                      f"({len(consensus) - 1} validators), not the consensus set "
                      f"({len(consensus)} validators) yet"),
    ]  # fmt: skip
    assert all(a.kind not in ("chain-read", "vault-set") for a in get_alerts(overview_of(box)))


def test_members_below_maintenance_counted_in_public_named_to_the_operator() -> None:
    box = traded_sandbox()
    (alice,) = [r for r in get_health(box.state) if r["member"] == "0x" + ALICE.address.hex()]
    get_sub_account_for_write(box.state, ALICE.address, 0).cash -= alice["equity"] - 1
    get_member_for_write(box.state, BOB.address).default_fund_required = 5
    public = texts(overview_of(box))
    assert public["below-maintenance"] == (
        "1 sub-account(s) below maintenance margin: liquidated at the next block"
    )
    assert public["reduce-only"].startswith("1 sub-account(s) reduce-only")
    assert ALICE.address.hex() not in str(public)
    operator = texts(overview_of(box, detailed=True))["below-maintenance"]
    asset = box.genesis.settlement_asset
    money = Unit(asset.symbol, asset.decimals)
    equity, mm = format_shown(1, money), format_shown(alice["maintenance_margin"], money)
    assert (
        f"0x{ALICE.address.hex()} sub-account 0 (equity {equity}, maintenance margin {mm})"
        in operator
    )
