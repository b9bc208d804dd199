"""The devnet's end summary: what the run did and what broke, from the network's record
and the replica's counts (devnet/conservation.py holds the invariants it checked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devnet.network import Devnet


@dataclass(frozen=True)
class Summary:
    seconds: float
    height: int
    validators: list[dict[str, Any]]
    roots_agree: bool
    heights_per_s: float
    commit_latency_p50_ms: int | None
    events: dict[str, int]
    codes: dict[str, int]
    reports: list[dict[str, Any]]
    chains: list[dict[str, Any]]
    failures: list[str]
    not_exercised: list[str]
    waterfall: list[str]
    profit_withdrawals: list[str]
    porting: list[str]  # `ported:` / `closed out:`, each client of a defaulted clearing member
    auctions: list[dict[str, Any]]  # each default auction's outcome, with its line
    margin_calls: list[dict[str, Any]]  # each margin call's outcome, with its line
    house_flat: bool
    rolls: list[dict[str, Any]]  # each series of the rolling future, with its line
    privacy_routes: int  # public listener routes the privacy audit read, leaks in failures
    cometbft_audited: list[str]  # validators whose CometBFT the audit checked, leaks in failures

    @classmethod
    def of(cls, net: Devnet, seconds: float) -> Summary:
        return cls(
            seconds=round(seconds, 1),
            height=net.state.height,
            validators=[
                {
                    "name": h.name,
                    "height": n.height,
                    "api": h.api_url,
                    "operator": h.operator_url,
                    "home": str(h.path),
                }
                for h, n in zip(net.homes, net.nodes, strict=True)
            ],
            roots_agree=not any("root" in f for f in net.failures),
            heights_per_s=round(net.replica.get_heights_per_s(), 2),
            commit_latency_p50_ms=net.get_latency_p50_ms(),
            events=dict(sorted(net.replica.events.items())),
            codes=dict(sorted(net.replica.codes.items())),
            reports=[
                {
                    "epoch": r.epoch,
                    "height": r.height,
                    "accounts": r.accounts,
                    "verified": r.verified,
                    "member_verified": r.member_verified,
                    "path": str(r.path),
                }
                for r in net.reports
            ],
            chains=[
                {
                    "chain_id": d.chain.chain_id,
                    "deposited": dict(d.deposited),
                    "paid_out": dict(d.paid_out),
                    "vault": d.get_vault_balances(),
                }
                for d in net.chains
            ],
            failures=list(net.failures),
            not_exercised=[*net.not_exercised, *describe_unpublished_reports(net)],
            waterfall=list(net.replica.waterfall_log),
            profit_withdrawals=list(net.profit_withdrawals),
            porting=list(net.replica.porting),
            auctions=net.replica.default_management.get_auctions(),
            margin_calls=net.replica.default_management.get_margin_calls(),
            house_flat=net.house_flat,
            rolls=net.replica.rolls.get_summary(),
            privacy_routes=net.privacy_routes,
            cometbft_audited=list(net.cometbft_audited),
        )

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def describe_unpublished_reports(net: Devnet) -> list[str]:
    """The epochs ended without a verified report as the summary is made: skipped by a
    busy builder, or still being built. Listed then, not when the first report came: the
    reports published meanwhile were listed as both published and not."""
    if not net.services.reports:
        return []
    verified = {r.epoch for r in net.reports}
    ended = net.state.height // net.replica.app.genesis.epoch_length_blocks
    missing = [e for e in range(1, ended + 1) if e not in verified]
    if not missing:
        return []
    return [f"reports of epochs {missing}: not published by the end (skipped by a busy "
            "builder, or still being built)"]  # fmt: skip


def describe_checked(net: Devnet, seconds: float) -> str:
    """What a run stopped early had checked, for its one line."""
    reports = sum(r.verified and r.member_verified for r in net.reports)
    broken = (
        f"{len(net.failures)} invariants broken, the first: {net.failures[0]}"
        if net.failures
        else "no invariant broken"
    )
    return (
        f"{count(net.state.height, 'block')} in {seconds:.0f} s (each validator's root against "
        f"the replica's, value conservation), {count(reports, 'report')} verified, {broken}"
    )


def count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"
