"""The status page: the overview rendered as one self-refreshing HTML document, read as
a person would: amounts in their units, times as dates and ages, small charts, and
everything wrong listed on top.

A pure function of the overview and the moment `now_ms` it is rendered at. Every value
is escaped; the page carries no script (its charts are inline SVG), so it renders in
any browser (and in headless Chromium in the tests) and cannot run anything.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from node.status.alerts import Alert, get_alerts, get_money
from node.status.charts import Series, render_chart
from node.status.times import format_age, format_clock, format_duration, format_utc
from node.status.units import Unit, format_count, format_exact, format_shown

REFRESH_S = 2
STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.2em auto;max-width:1060px;"
    "padding:0 1em;background:#fafafa;color:#222}"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em;"
    "border-bottom:1px solid #ccd;padding-bottom:2px}h3{font-size:1em;margin:.8em 0 .3em}"
    "table{border-collapse:collapse;margin-bottom:.8em;background:#fff}"
    "td,th{border:1px solid #ccd;padding:2px 8px;text-align:left;white-space:nowrap}"
    "td.num{text-align:right}th{background:#e8eef7;font-weight:600}"
    "tr:nth-child(even) td{background:#f6f8fb}"
    ".ok{color:#070}.bad{color:#b00;font-weight:bold}.muted{color:#777}"
    "code{font-size:90%}.lead{margin:.2em 0;color:#444}"
    "#alerts{border:2px solid #b00;background:#fdecea;padding:.4em 1em .4em 2em;margin:.8em 0}"
    "#alerts li{margin:.2em 0;color:#8a0000}"
    "p#alerts{border-color:#7a7;background:#eef8ee;color:#070;padding:.4em 1em}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}"
    "figure.chart{margin:0;background:#fff;border:1px solid #ccd;padding:6px 8px}"
    "figcaption{font-weight:600;font-size:.95em}.key{font-weight:normal;margin-left:.8em}"
    ".axis{display:flex;justify-content:space-between;gap:1em;font-size:.8em;color:#555}"
    "td figure.chart{border:0;padding:0;background:none;text-align:left}"
    "td .axis{font-size:.75em}"
    ".no-chart{color:#777;font-style:italic;margin:.3em 0}"
)


class Markup(str):
    """Text that is already HTML (built here from escaped parts): a cell shows it as is."""


def cell(value: object) -> str:
    if value is None:
        return "<td>–</td>"
    if isinstance(value, Markup):
        return f"<td class='num'>{value}</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f"<td class='num'>{value}</td>"
    text = str(value)
    if text.startswith("0x") and len(text) > 18:
        return f"<td><code title='{html.escape(text)}'>{html.escape(text[:10])}…</code></td>"
    return f"<td>{html.escape(text)}</td>"


def table(section: str, rows: Sequence[Mapping[str, Any]], empty: str) -> str:
    if not rows:
        return f"<p id='{section}' class='muted'>{html.escape(empty)}</p>"
    headers = list(rows[0])
    head = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(r.get(h)) for h in headers) + "</tr>" for r in rows)
    return f"<table id='{section}'><tr>{head}</tr>{body}</table>"


def amount(value: int | None, unit: Unit) -> Markup | None:
    """`value` in `unit`; when decimals are cut the exact figure is its tooltip."""
    if value is None:
        return None
    shown, exact = format_shown(value, unit), format_exact(value, unit)
    if shown == exact:
        return Markup(html.escape(shown))
    return Markup(f"<span title='{html.escape(exact)}'>{html.escape(shown)}</span>")


def withheld_or(value: Markup | None, why: str | None) -> Markup | None:
    """A figure the public view withheld shows why in its place."""
    return value if why is None else figure(why)


def count(value: int | None) -> Markup | None:
    return None if value is None else Markup(format_count(value))


def figure(text: str) -> Markup:
    """A figure in words (`12 s ago`, `40 ms`): aligned as numbers are."""
    return Markup(html.escape(text))


def moment(time_ms: int, now_ms: int) -> str:
    return f"{format_utc(time_ms)} ({format_age(time_ms, now_ms)})"


def render_alerts(alerts: Sequence[Alert]) -> str:
    """One list of everything wrong, or the words saying nothing is."""
    if not alerts:
        return "<p id='alerts'>no alerts</p>"
    items = "".join(f"<li class='alert {a.kind}'>{html.escape(a.text)}</li>" for a in alerts)
    return f"<ul id='alerts'>{items}</ul>"


def render_summary(overview: Mapping[str, Any], now_ms: int) -> str:
    """Where the chain is and when it got there; this node's peers and lag."""
    blocks = overview["blocks"]
    last = f"last block {moment(blocks[0]['time_ms'], now_ms)}; " if blocks else ""
    p50 = overview["commit_ms_p50"]
    latency = "" if p50 is None else f"; commit latency p50 {format_duration(p50)}"
    summary = (
        f"<p id='height' class='lead'>height {overview['height']}, chain id "
        f"{overview['chain_id']}; {html.escape(last)}page rendered "
        f"{html.escape(format_utc(now_ms))}{html.escape(latency)}</p>"
    )
    health = overview.get("health")
    if health is None:
        return summary
    return (
        f"{summary}<p id='health' class='lead'>{overview.get('peers')} peers connected; "
        f"{health['blocks_behind']} blocks behind the best peer "
        f"(height {health['best_peer_height']}); last commit "
        f"{health['last_commit_age_s']} s ago at height {health['last_commit_height']}</p>"
    )


def render_charts(history: Mapping[str, Any], money: Unit) -> str:
    """Block height over time, commit latency per block, the default fund."""
    heights, times = history["height"], history["time_ms"]
    height_chart = render_chart(
        "chart-height",
        "Block height",
        [Series("height", list(zip(times, heights, strict=True)))],
        lambda h: f"height {h}",
        lambda t0, t1: f"over {format_duration(t1 - t0)}",
    )
    latency_chart = render_chart(
        "chart-latency",
        "Commit latency per block",
        [Series("latency", list(zip(heights, history["commit_ms"], strict=True)))],
        format_duration,
        lambda h0, h1: f"heights {h0}–{h1}",
    )
    fund_chart = render_chart(
        "chart-default-fund",
        "Default fund",
        [
            Series("posted", get_points(heights, history["default_fund_posted"])),
            Series("required", get_points(heights, history["default_fund_required"])),
        ],
        lambda v: format_shown(v, money),
        lambda h0, h1: f"heights {h0}–{h1}",
    )
    return f"<div class='charts'>{height_chart}{latency_chart}{fund_chart}</div>"


def get_points(xs: Sequence[int], ys: Sequence[int | None]) -> list[tuple[int, int]]:
    """The points of a column, without the samples it has no figure for (withheld)."""
    return [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]


def render_prices(overview: Mapping[str, Any], money: Unit) -> str:
    """Each mark price per lot in the settlement unit, what a lot is, and its recent line."""
    lots = overview["units"]["lots"]
    history = overview["history"]
    rows = []
    for iid, mark in overview["prices"].items():
        lot = lots.get(iid)
        points = get_points(history["height"], history["marks"].get(iid, []))
        chart = render_chart(
            f"chart-mark-{iid}", "", [Series(iid, points)],
            lambda v: format_shown(v, money), lambda h0, h1: f"heights {h0}–{h1}",
            width=220, height=36,
        )  # fmt: skip
        rows.append(
            {
                "instrument": iid,
                "mark_per_lot": amount(mark, money),
                "lot": None if lot is None else f"{lot['contract_size']} {lot['underlying']}",
                "recent": Markup(chart),
            }
        )
    return table("prices", rows, "no prices")


def render_open_interest(open_interest: Mapping[str, int | None], k: int) -> str:
    hidden = f"withheld: fewer than {k} accounts hold a side"
    rows = [
        {"instrument": iid, "lots_long_and_short": hidden if lots is None else count(lots)}
        for iid, lots in open_interest.items()
    ]
    return table("open-interest", rows, "no instrument")


def render_blocks(blocks: Sequence[Mapping[str, Any]], now_ms: int) -> str:
    rows = [
        {
            "height": b["height"],
            "time_UTC": figure(format_clock(b["time_ms"])),
            "age": figure(format_age(b["time_ms"], now_ms)),
            "round": "–" if b["round"] is None else b["round"],  # CometBFT: with the next block
            "txs": count(b["txs"]),
            "rejected": count(b["rejected"]),
            "signers": b["signers"],
            "state_root": b["state_root"],
            "commit_latency": figure(format_duration(b["commit_ms"])),
        }
        for b in blocks
    ]
    return table("blocks", rows, "no block yet")


def render_chains(chains: Sequence[Mapping[str, Any]]) -> str:
    """Per chain and token, in the token's own decimals: the vault beside the ledger."""
    rows = []
    for c in chains:
        for t in c["tokens"]:
            unit = Unit(t["symbol"], t["decimals"])
            rows.append(
                {
                    "chain_id": c["chain_id"],
                    "name": c["name"],
                    "vault": c["vault"],
                    "vault_balance": amount(t["vault"], unit),
                    "ledger": amount(t["ledger"], unit),
                    "pending_withdrawals": amount(t["pending_withdrawals"], unit),
                    "held_for_cash": amount(t["for_cash"], unit),
                    "read": c["error"] or "ok",
                }
            )
    return table("chains", rows, "no collateral chains in genesis")


def render_vault_sets(chains: Sequence[Mapping[str, Any]]) -> str:
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


def render_report(report: Mapping[str, Any] | None) -> str:
    if report is None:
        return "<p id='report' class='muted'>solvency reports are not built on this node</p>"
    verdict = str(report.get("verdict", "none yet"))
    css = "ok" if verdict == "VALID" else ("bad" if verdict == "INVALID" else "")
    details = "".join(
        f"<li>{html.escape(k.replace('_', ' '))}: {html.escape(str(v))}</li>"
        for k, v in report.items()
        if k != "verdict"
    )
    return f"<p id='report' class='{css}'>{html.escape(verdict)}</p><ul>{details}</ul>"


def render_clearing_house(house: Mapping[str, Any], money: Unit) -> str:
    """The house's own funds, in the settlement unit."""
    fund, df = house["insurance_fund"], house["default_fund"]
    withheld = df.get("withheld", {})  # the public view's; the operator's withholds nothing
    backing = [f"{format_shown(v, money)} in chain {c}'s vault"
               for c, v in fund["cash_in_vaults"].items()]  # fmt: skip
    backing.append(f"{format_shown(fund['cash_owed'], money)} owed by members or rounding")
    losses = df.get("cover_losses")
    sizing = "no risk section in genesis" if df["cover"] is None else f"Cover-{df['cover']}"
    if losses is not None:  # the operator's view: the N largest stress losses it sized on
        shown = ", ".join(format_shown(x, money) for x in losses) or "none yet"
        sizing = f"{sizing}, largest stress losses beyond initial margin: {shown}"
    cap = df["assessment_cap_bps"]
    assessments = "none" if cap is None else f"{cap} bps of a contribution per epoch"
    rows = [
        ("clearing-house", "house equity", amount(house["house_equity"], money)),
        ("", "fee pool", amount(house["fee_pool"], money)),
        ("", "uncovered deficit", amount(house["uncovered_deficit"], money)),
        ("insurance-fund", "insurance fund cash", amount(fund["cash"], money)),
        ("", "… of which", Markup(html.escape("; ".join(backing)))),
        ("", "seized collateral worth", amount(fund["collateral_value"], money)),
        ("", "lots held by the house", Markup(
            f"in {format_count(fund['positions'])} instrument(s), "
            f"{format_count(fund['open_auctions'])} open auction(s)")),
        ("default-fund", "default fund posted",
         withheld_or(amount(df["posted"], money), withheld.get("posted"))),
        ("", "default fund required",
         withheld_or(amount(df["required"], money), withheld.get("required"))),
        ("", "contributors", count(df["contributors"])),
        ("", "sizing", Markup(html.escape(sizing))),
        ("", "assessment cap", Markup(html.escape(assessments))),
    ]  # fmt: skip
    body = "".join(
        f"<tr{f' id={quoteattr(rid)}' if rid else ''}><th>{html.escape(name)}</th>"
        f"{cell(value)}</tr>"
        for rid, name, value in rows
    )
    reserves = [
        {"chain_id": c, "held_for_cash": amount(r, money)}
        for c, r in house["settlement_reserves"].items()
    ]
    return (
        f"<table class='kv'>{body}</table>"
        f"{table('settlement-reserves', reserves, 'no settlement tokens held for cash')}"
    )


def render_margin(margin: Mapping[str, int]) -> str:
    return (
        f"<p id='margin'>{format_count(margin['accounts'])} sub-accounts hold risk: "
        f"{format_count(margin['below_maintenance'])} below maintenance margin, "
        f"{format_count(margin['below_initial'])} below initial margin, "
        f"{format_count(margin['reduce_only'])} reduce-only</p>"
    )


def render_members(members: Sequence[Mapping[str, Any]] | None, money: Unit) -> str:
    """Each member's health: on the operator's page only (the overview has no rows else)."""
    if members is None:
        return ""
    rows = [
        {
            "member": m["member"],
            "sub_account": m["sub_account"],
            "equity": amount(m["equity"], money),
            "initial_margin": amount(m["initial_margin"], money),
            "maintenance_margin": amount(m["maintenance_margin"], money),
            "health": None if m["health_pct"] is None else figure(f"{m['health_pct']:,} %"),
            "status": m["status"],
            "reduce_only": m["reduce_only"],
        }
        for m in members
    ]
    return f"<h2>Members' health</h2>{table('members', rows, 'no member holds risk')}"


def render_defaults(defaults: Sequence[Mapping[str, Any]], money: Unit) -> str:
    rows = [
        {
            "height": d["height"],
            "kind": d["kind"],
            "events": d["events"],
            "amount": withheld_or(amount(d["amount"], money), d["withheld"]),
        }
        for d in defaults
    ]
    return table("defaults", rows, "no default")


def render_governance(governance: Mapping[str, list[dict[str, Any]]]) -> str:
    """Votes open, the timelock (what executes at which height), recent outcomes."""
    return (
        f"<h3>Voting</h3>{table('gov-voting', governance['voting'], 'no open vote')}"
        f"<h3>Scheduled changes</h3>"
        f"{table('gov-scheduled', governance['scheduled'], 'no change scheduled')}"
        f"<h3>Recent outcomes</h3>"
        f"{table('gov-recent', governance['recent'], 'no finished proposal')}"
    )


def render_status_page(overview: Mapping[str, Any], now_ms: int) -> str:
    name = html.escape(str(overview["moniker"]))
    money = get_money(overview)
    open_interest = render_open_interest(
        overview["open_interest"], overview["min_public_contributors"]
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_S}'>"
        f"<title>clearnode {name}</title><style>{STYLE}</style></head><body>"
        f"<h1>clearnode status: {name}</h1>"
        f"{render_summary(overview, now_ms)}"
        f"{render_alerts(get_alerts(overview))}"
        f"{render_charts(overview['history'], money)}"
        f"<h2>Clearing house ({html.escape(money.symbol)})</h2>"
        f"{render_clearing_house(overview['clearing_house'], money)}"
        f"<h2>Prices</h2>{render_prices(overview, money)}"
        f"<h2>Open interest</h2>{open_interest}"
        f"<h2>Margin</h2>{render_margin(overview['margin'])}"
        f"{render_members(overview.get('members'), money)}"
        f"<h2>Validators</h2>{table('validators', overview['validators'], 'none')}"
        f"<h2>Recent blocks</h2>{render_blocks(overview['blocks'], now_ms)}"
        f"<h2>Chains and vault balances</h2>{render_chains(overview['chains'])}"
        f"<h2>Vault validator sets</h2>{render_vault_sets(overview['chains'])}"
        f"<h2>Waterfall events</h2>{render_defaults(overview['defaults'], money)}"
        f"<h2>Governance</h2>{render_governance(overview['governance'])}"
        f"<h2>Latest solvency report</h2>{render_report(overview['report'])}"
        "</body></html>"
    )
