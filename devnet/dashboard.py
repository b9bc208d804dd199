"""What a person watches: a live rich dashboard on a terminal, plain lines
otherwise (pipes, CI, tests), and the end summary."""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from clearing.default.events import WATERFALL_KINDS

if TYPE_CHECKING:
    from devnet.network import Devnet
    from devnet.summary import Summary

MEMBER_EVENTS = (
    *WATERFALL_KINDS,
    "collateral_credited",
    "withdrawal",
    "withdrawal_paid",
    "withdrawal_refunded",
)


class PlainObserver:
    """One line per block, for logs and tests."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def update(self, devnet: Devnet) -> None:
        return None

    def log(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def close(self) -> None:
        return None


class Dashboard:
    """A rich Live view, re-rendered at most every REFRESH_S (updates come per block
    and per poll)."""

    REFRESH_S = 0.5

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=8)
        self.live = Live(Panel("starting..."), console=Console(), refresh_per_second=2)
        self.live.start()
        self.rendered_at = 0.0

    def log(self, line: str) -> None:
        self.lines.append(line)

    def update(self, devnet: Devnet) -> None:
        if time.monotonic() - self.rendered_at >= self.REFRESH_S:
            self.rendered_at = time.monotonic()
            self.live.update(render(devnet, list(self.lines)))

    def close(self) -> None:
        self.live.stop()


def make_observer(quiet: bool) -> PlainObserver | Dashboard:
    return Dashboard() if sys.stdout.isatty() and not quiet else PlainObserver(quiet)


def render(net: Devnet, lines: list[str]) -> Group:
    head = Table.grid(padding=(0, 2))
    latency = net.get_latency_p50_ms()
    head.add_row(
        f"replica at height {net.state.height}",
        f"{net.replica.get_heights_per_s():.2f} heights/s",
        f"commit latency p50 {'-' if latency is None else f'{latency} ms'}",
        f"fee pool {net.state.fee_pool}",
        f"insurance {net.state.insurance_fund}",
    )
    nodes = Table("validator", "height", "status page", title="validator processes")
    for home, view in zip(net.homes, net.nodes, strict=True):
        nodes.add_row(home.name, str(view.height), home.operator_url + "/")
    prices = Table("price", "committed", title="prices (GET /v1/prices)")
    for kind in ("index", "mark"):
        for key, value in sorted(net.prices.get(kind, {}).items()):
            prices.add_row(f"{kind} {key}", str(value))
    health = Table("member", "role", "equity", "MM", "status", title="margin health (own queries)")
    for m in net.members:
        equity, mm, status = net.health.get(m.name, ("-", "-", "not queried"))
        health.add_row(
            m.name, m.role, equity, mm, "[red]below MM[/red]" if status == "below MM" else status
        )
    flows = Table("chain", "deposited", "paid out", "vault", title="bridge flows")
    for d in net.chains:
        flows.add_row(
            str(d.chain.chain_id),
            str(d.deposited),
            str(d.paid_out),
            str(net.vaults.get(d.chain.chain_id, {})),
        )
    events = Table("event", "count", title="events")
    for kind in MEMBER_EVENTS:
        if net.replica.events.get(kind):
            events.add_row(kind, str(net.replica.events[kind]))
    reports = Table("epoch", "height", "accounts", "verify", "member openings", title="reports")
    for r in net.reports[-4:]:
        reports.add_row(
            str(r.epoch),
            str(r.height),
            str(r.accounts),
            "valid" if r.verified else "[red]INVALID[/red]",
            "valid" if r.member_verified else "[red]INVALID[/red]",
        )
    return Group(
        Panel(head, title="clearnode devnet"),
        nodes,
        prices,
        health,
        flows,
        events,
        reports,
        Panel("\n".join(net.replica.waterfall_log[-6:]) or "none yet", title="waterfall"),
        Panel(
            "\n".join(net.replica.default_management.get_lines()[-6:]) or "none yet",
            title="default auctions and margin calls",
        ),
        Panel("\n".join(lines), title="log"),
        Panel("\n".join(net.failures) or "none", title="invariant failures"),
    )


def print_summary(summary: Summary) -> None:
    print("=== clearnode devnet summary ===")
    heights = ", ".join(f"{v['name']} {v['height']}" for v in summary.validators)
    print(
        f"ran {summary.seconds}s: {len(summary.validators)} validator processes ({heights}), "
        f"replica at height {summary.height}, {summary.heights_per_s} heights/s, "
        f"commit latency p50 {summary.commit_latency_p50_ms} ms"
    )
    print(f"state roots agree (every height, every node, and the replica): {summary.roots_agree}")
    print(f"tx results: {summary.codes}")
    interesting = {k: v for k, v in summary.events.items() if k in MEMBER_EVENTS}
    print(f"events: {interesting}")
    for line in summary.waterfall:
        print(f"  waterfall: {line}")
    for outcome in [*summary.auctions, *summary.margin_calls]:
        print(outcome["line"])
    for line in summary.porting:
        print(line)
    for line in summary.profit_withdrawals:
        print(f"profit withdrawn cross-chain: {line}")
    for roll in summary.rolls:
        print(roll["line"])
    if summary.house_flat:
        print("house account flat at the end: yes")
    audited = ", ".join(summary.cometbft_audited)
    checked = f"; CometBFT's ports, RPC socket and peer filter checked on {audited}"
    engine = checked if audited else ""
    print(f"privacy audit: {summary.privacy_routes} public routes read{engine}")
    for c in summary.chains:
        print(
            f"chain {c['chain_id']}: deposited {c['deposited']} paid out {c['paid_out']} "
            f"vault balances {c['vault']}"
        )
    for r in summary.reports:
        print(
            f"report epoch {r['epoch']} (height {r['height']}, {r['accounts']} accounts): "
            f"verify {'valid' if r['verified'] else 'INVALID'}, member openings "
            f"{'valid' if r['member_verified'] else 'INVALID'} -> {r['path']}"
        )
    for line in summary.not_exercised:
        print(f"NOT EXERCISED: {line}")
    for failure in summary.failures:
        print(f"INVARIANT BROKEN: {failure}")
    print("all invariants held" if summary.ok else "INVARIANTS BROKEN")
