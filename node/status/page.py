"""The status page: the overview rendered as one self-refreshing HTML document.

Every value is escaped; the page carries no script, so it renders in any
browser (and in headless Chromium in the tests) and cannot run anything.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

REFRESH_S = 2
STYLE = (
    "body{font-family:sans-serif;margin:1.5em;background:#fafafa;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
    "th{background:#e8eef7}.ok{color:#070}.bad{color:#b00;font-weight:bold}"
    "code{font-size:90%}"
)


def cell(value: object) -> str:
    if value is None:
        return "<td>–</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    text = str(value)
    if text.startswith("0x") and len(text) > 18:
        return f"<td><code title='{html.escape(text)}'>{html.escape(text[:10])}…</code></td>"
    return f"<td>{html.escape(text)}</td>"


def table(section: str, rows: Sequence[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f"<p id='{section}'>{html.escape(empty)}</p>"
    headers = list(rows[0])
    head = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(r.get(h)) for h in headers) + "</tr>" for r in rows)
    return f"<table id='{section}'><tr>{head}</tr>{body}</table>"


def render_chains(chains: Sequence[dict[str, Any]]) -> str:
    rows = [
        {
            "chain_id": c["chain_id"],
            "name": c["name"],
            "vault": c["vault"],
            "symbol": t["symbol"],
            "vault_balance": t["vault"],
            "ledger": t["ledger"],
            "pending_withdrawals": t["pending_withdrawals"],
            "read": c["error"] or "ok",
        }
        for c in chains
        for t in c["tokens"]
    ]
    return table("chains", rows, "no collateral chains in genesis")


def render_vault_sets(chains: Sequence[dict[str, Any]]) -> str:
    """Each vault's validator set: its epoch, and whether it is the consensus set yet."""
    rows = [
        {
            "chain_id": c["chain_id"],
            "name": c["name"],
            "epoch": c["validator_set"]["epoch"],
            "validators": c["validator_set"]["validators"],
            "consensus_validators": c["validator_set"]["consensus_validators"],
            "validator_set": c["validator_set"]["status"].replace("_", " "),
        }
        for c in chains
        if c.get("validator_set") is not None
    ]
    return table("vault-sets", rows, "no vault's validator set read by this node")


def render_report(report: dict[str, Any] | None) -> str:
    if report is None:
        return "<p id='report'>solvency reports are not built on this node</p>"
    verdict = str(report.get("verdict", "none yet"))
    css = "ok" if verdict == "VALID" else ("bad" if verdict == "INVALID" else "")
    details = "".join(
        f"<li>{html.escape(k.replace('_', ' '))}: {html.escape(str(v))}</li>"
        for k, v in report.items()
        if k != "verdict"
    )
    return f"<p id='report' class='{css}'>{html.escape(verdict)}</p><ul>{details}</ul>"


def render_health(health: dict[str, Any] | None, peers: int | None) -> str:
    """Warnings on top, in plain words; then peers, how far behind, the last commit."""
    if health is None:
        return ""
    alerts = "".join(f"<p class='bad alert'>{html.escape(w)}</p>" for w in health["warnings"])
    return (
        f"{alerts}<p id='health'>{peers} peers connected; "
        f"{health['blocks_behind']} blocks behind the best peer "
        f"(height {health['best_peer_height']}); last commit "
        f"{health['last_commit_age_s']} s ago at height {health['last_commit_height']}</p>"
    )


def render_clearing_house(house: dict[str, Any]) -> str:
    """The house's own funds; a halt of withdrawals is the first thing a member must see."""
    alert = (
        f"<p class='bad alert' id='withdrawals-halted'>withdrawals halted: defaults cost "
        f"{house['uncovered_deficit']} more than the waterfall held</p>"
        if house["withdrawals_halted"]
        else ""
    )
    reserves = [
        {"chain_id": c, "held_for_cash": r} for c, r in house["settlement_reserves"].items()
    ]
    fund, df = house["insurance_fund"], house["default_fund"]
    vaults = "".join(f"{v} in chain {c}'s vault, " for c, v in fund["cash_in_vaults"].items())
    return (
        f"{alert}<p id='clearing-house'>house equity {house['house_equity']}, "
        f"fee pool {house['fee_pool']}, uncovered deficit {house['uncovered_deficit']}</p>"
        f"<p id='insurance-fund'>insurance fund: cash {fund['cash']} ({vaults}"
        f"{fund['cash_owed']} owed by members or rounding), seized collateral "
        f"worth {fund['collateral_value']}, lots in {fund['positions']} instruments, "
        f"{fund['open_auctions']} open auctions</p>"
        f"<p id='default-fund'>default fund: {df['posted']} posted of {df['required']} "
        f"required by {df['contributors']} members; Cover-{df['cover']} sizing"
        f"{html.escape(' ' + str(df['cover_losses'])) if 'cover_losses' in df else ''}; "
        f"assessments up to {df['assessment_cap_bps']} bps of a contribution per epoch</p>"
        f"{table('settlement-reserves', reserves, 'no settlement tokens held for cash')}"
    )


def render_margin(margin: dict[str, int]) -> str:
    return (
        f"<p id='margin'>{margin['accounts']} sub-accounts hold risk: "
        f"{margin['below_maintenance']} below maintenance margin, {margin['below_initial']} "
        f"below initial margin, {margin['reduce_only']} reduce-only</p>"
    )


def render_members(members: list[dict[str, Any]] | None) -> str:
    """Each member's health: on the operator's page only (the overview has no rows else)."""
    if members is None:
        return ""
    return f"<h2>Members' health</h2>{table('members', members, 'no member holds risk')}"


def render_governance(governance: dict[str, list[dict[str, Any]]]) -> str:
    """Votes open, the timelock (what executes at which height), recent outcomes."""
    return (
        f"<h3>Voting</h3>{table('gov-voting', governance['voting'], 'no open vote')}"
        f"<h3>Scheduled changes</h3>"
        f"{table('gov-scheduled', governance['scheduled'], 'no change scheduled')}"
        f"<h3>Recent outcomes</h3>"
        f"{table('gov-recent', governance['recent'], 'no finished proposal')}"
    )


def render_status_page(overview: dict[str, Any]) -> str:
    name = html.escape(str(overview["moniker"]))
    prices = [{"instrument": k, "mark": v} for k, v in overview["prices"].items()]
    open_interest = [{"instrument": k, "lots": v} for k, v in overview["open_interest"].items()]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_S}'>"
        f"<title>clearnode {name}</title><style>{STYLE}</style></head><body>"
        f"<h1>clearnode status: {name}</h1>"
        f"{render_health(overview.get('health'), overview.get('peers'))}"
        f"<p id='height'>height {overview['height']}, chain id {overview['chain_id']}, "
        f"commit latency p50 {overview['commit_ms_p50']} ms</p>"
        f"{render_clearing_house(overview['clearing_house'])}"
        f"<h2>Validators</h2>{table('validators', overview['validators'], 'none')}"
        f"<h2>Recent blocks</h2>{table('blocks', overview['blocks'], 'no block yet')}"
        f"<h2>Prices</h2>{table('prices', prices, 'no prices')}"
        f"<h2>Chains and vault balances</h2>{render_chains(overview['chains'])}"
        f"<h2>Vault validator sets</h2>{render_vault_sets(overview['chains'])}"
        f"<h2>Open interest</h2>{table('open-interest', open_interest, 'no instrument')}"
        f"<h2>Margin</h2>{render_margin(overview['margin'])}"
        f"{render_members(overview.get('members'))}"
        f"<h2>Waterfall events</h2>{table('defaults', overview['defaults'], 'no default')}"
        f"<h2>Governance</h2>{render_governance(overview['governance'])}"
        f"<h2>Latest solvency report</h2>{render_report(overview['report'])}"
        "</body></html>"
    )
