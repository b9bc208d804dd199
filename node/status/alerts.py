"""Everything wrong, in plain words with the numbers, for the top of the status page.

Read from the overview the page is rendered from, so the public page names no member:
its overview has counts only; the operator's has the members' rows, and so do its alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from node.status.overview import NOT_WATCHED
from node.status.units import Unit, format_count, format_shown

MAX_NAMED = 10
"""Members named in one alert of the operator's page; beyond, a count."""


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    text: str


def get_money(overview: Mapping[str, Any]) -> Unit:
    settlement = overview["units"]["settlement"]
    return Unit(str(settlement["symbol"]), int(settlement["decimals"]))


def get_alerts(overview: Mapping[str, Any]) -> list[Alert]:
    money = get_money(overview)
    return [
        *get_health_alerts(overview.get("health")),
        *get_halt_alerts(overview["clearing_house"], money),
        *get_upgrade_alerts(overview.get("upgrade")),
        *get_report_alerts(overview["report"]),
        *get_chain_alerts(overview["chains"]),
        *get_margin_alerts(overview["margin"], overview.get("members"), money),
    ]


def get_health_alerts(health: Mapping[str, Any] | None) -> list[Alert]:
    """The node's own warnings: no commit for too long, too many blocks behind."""
    return [] if health is None else [Alert("health", str(w)) for w in health["warnings"]]


def get_upgrade_alerts(upgrade: Mapping[str, Any] | None) -> list[Alert]:
    """The upgrade in place governance scheduled, with its countdown: every node stops at
    its height until it runs the release it needs."""
    planned = None if upgrade is None else upgrade["planned"]
    if planned is None:
        return []
    return [
        Alert(
            "upgrade",
            f"upgrade {planned['name']} at height {planned['height']}, in "
            f"{format_count(planned['blocks_left'])} blocks: it needs release "
            f"{planned['version']}",
        )
    ]


def get_halt_alerts(house: Mapping[str, Any], money: Unit) -> list[Alert]:
    if not house["withdrawals_halted"]:
        return []
    deficit = format_shown(house["uncovered_deficit"], money)
    return [
        Alert(
            "withdrawals-halted",
            f"withdrawals halted: defaults cost {deficit} more than the waterfall held",
        )
    ]


def get_report_alerts(report: Mapping[str, Any] | None) -> list[Alert]:
    if report is None or report.get("verdict") not in ("INVALID", "NOT CHECKED"):
        return []
    which = f"the latest solvency report (epoch {report.get('epoch', '?')})"
    failures = "; ".join(str(f) for f in report.get("failures", ()))
    if report["verdict"] == "INVALID":
        return [Alert("report", f"{which} is INVALID: {failures}")]
    return [Alert("report", f"{which} was not checked: {failures}")]


def get_chain_alerts(chains: Sequence[Mapping[str, Any]]) -> list[Alert]:
    """A vault this node watches but cannot read, and one whose validator set is not
    the consensus set yet."""
    alerts = []
    for chain in chains:
        where = f"chain {chain['chain_id']}" + (f" ({chain['name']})" if chain["name"] else "")
        if chain["error"] and chain["error"] != NOT_WATCHED:
            alerts.append(
                Alert(
                    "chain-read",
                    f"{where}: the vault could not be read ({chain['error']}); "
                    "its balances shown are the last read",
                )
            )
        vault_set = chain.get("validator_set")
        if vault_set is not None and vault_set["status"] != "in_sync":
            alerts.append(
                Alert(
                    "vault-set",
                    f"{where}: the vault trusts validator set epoch {vault_set['epoch']} "
                    f"({vault_set['validators']} validators), not the consensus set "
                    f"({vault_set['consensus_validators']} validators) yet",
                )
            )
    return alerts


def get_margin_alerts(
    margin: Mapping[str, int], members: Sequence[Mapping[str, Any]] | None, money: Unit
) -> list[Alert]:
    """Sub-accounts below maintenance margin (liquidated at the next block), and
    reduce-only ones; named on the operator's page only (`members` given)."""
    alerts = []
    below = margin["below_maintenance"]
    if below:
        text = (
            f"{format_count(below)} sub-account(s) below maintenance margin: "
            "liquidated at the next block"
        )
        if members is not None:
            rows = [m for m in members if m["status"] == "below MM"]
            named = ", ".join(
                f"{m['member']} sub-account {m['sub_account']} (equity "
                f"{format_shown(m['equity'], money)}, maintenance margin "
                f"{format_shown(m['maintenance_margin'], money)})"
                for m in rows[:MAX_NAMED]
            )
            more = f" and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
            text = f"{text}: {named}{more}"
        alerts.append(Alert("below-maintenance", text))
    if margin["reduce_only"]:
        alerts.append(
            Alert(
                "reduce-only",
                f"{format_count(margin['reduce_only'])} sub-account(s) reduce-only: their "
                "member posted less to the default fund than it must",
            )
        )
    return alerts
