"""What a person watches: a live rich dashboard on a terminal, plain lines
otherwise (pipes, CI, tests), and the end summary."""

from __future__ import annotations

import sys
from collections import deque
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from clearing.risk.engine import get_member_risk

if TYPE_CHECKING:
    from node.devnet.orchestrator import Devnet
    from node.devnet.status import StatusServer
    from node.devnet.summary import Summary

MEMBER_EVENTS = (
    "liquidated",
    "collateral_seized",
    "own_contribution_used",
    "insurance_used",
    "contribution_mutualised",
    "deleveraged",
    "uncovered",
    "collateral_credited",
    "withdrawal",
    "withdrawal_paid",
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
    """A rich Live view, refreshed after every block."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=8)
        self.live = Live(Panel("starting..."), console=Console(), refresh_per_second=4)
        self.live.start()

    def log(self, line: str) -> None:
        self.lines.append(line)

    def update(self, devnet: Devnet) -> None:
        self.live.update(render(devnet, list(self.lines)))

    def close(self) -> None:
        self.live.stop()


class Observers:
    """Hands every block and log line to each observer (dashboard, status pages)."""

    def __init__(self, *observers: PlainObserver | Dashboard | StatusServer) -> None:
        self.observers = observers

    def update(self, devnet: Devnet) -> None:
        for observer in self.observers:
            observer.update(devnet)

    def log(self, line: str) -> None:
        for observer in self.observers:
            observer.log(line)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()


def make_observer(quiet: bool, status: StatusServer | None = None) -> Observers:
    screen = Dashboard() if sys.stdout.isatty() and not quiet else PlainObserver(quiet)
    return Observers(screen) if status is None else Observers(screen, status)


def render(net: Devnet, lines: list[str]) -> Group:
    s = net.state
    head = Table.grid(padding=(0, 2))
    mean = sum(net.block_ms[-20:]) / max(1, len(net.block_ms[-20:]))
    head.add_row(
        f"height {s.height}",
        f"validators {len(net.replicas)} (in-process)",
        f"apply {mean:.1f} ms/block",
        f"fee pool {s.fee_pool}",
        f"insurance {s.insurance_fund}",
    )
    prices = Table("instrument", "mark", title="prices")
    for iid, mark in sorted(s.mark_prices.items()):
        prices.add_row(iid, str(mark))
    health = Table("member", "role", "equity", "MM", "status", title="margin health")
    for m in net.members:
        risk = get_member_risk(s, m.address, 0)
        if risk is None:
            health.add_row(m.name, m.role, "-", "-", "no account")
            continue
        ok = risk.equity >= risk.maintenance_margin
        status = "ok" if ok else "[red]below MM[/red]"
        health.add_row(m.name, m.role, str(risk.equity), str(risk.maintenance_margin), status)
    flows = Table("chain", "deposited", "paid out", "vault", title="bridge flows")
    for d in net.chains:
        flows.add_row(
            str(d.chain.chain_id),
            str(d.deposited),
            str(d.paid_out),
            str({sym: d.get_vault_balance(sym) for sym in d.deployed.tokens}),
        )
    events = Table("event", "count", title="events")
    for kind in MEMBER_EVENTS:
        if net.events.get(kind):
            events.add_row(kind, str(net.events[kind]))
    reports = Table("epoch", "height", "accounts", "verify", "member openings", title="reports")
    for r in net.reports[-4:]:
        reports.add_row(
            str(r.epoch),
            str(r.height),
            str(r.accounts),
            "valid" if r.verified else "[red]INVALID[/red]",
            "valid" if r.member_verified else "[red]INVALID[/red]",
        )
    failures = "\n".join(net.failures) or "none"
    return Group(
        Panel(head, title="clearnode devnet"),
        prices,
        health,
        flows,
        events,
        reports,
        Panel("\n".join(net.waterfall_log[-6:]) or "none yet", title="waterfall"),
        Panel("\n".join(lines), title="log"),
        Panel(failures, title="invariant failures"),
    )


def print_summary(summary: Summary) -> None:
    print("=== clearnode devnet summary ===")
    print(f"mode: {summary.mode}")
    print(
        f"ran {summary.seconds}s, height {summary.height}, {summary.validators} validators, "
        f"state roots agree: {summary.roots_agree}, mean apply {summary.mean_block_ms} ms/block"
    )
    print(f"tx results: {summary.codes}")
    interesting = {k: v for k, v in summary.events.items() if k in MEMBER_EVENTS}
    print(f"events: {interesting}")
    for line in summary.waterfall:
        print(f"  waterfall: {line}")
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
    for failure in summary.failures:
        print(f"INVARIANT BROKEN: {failure}")
    print("all invariants held" if summary.ok else "INVARIANTS BROKEN")
