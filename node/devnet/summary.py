"""The invariants the devnet checks, and its end summary.

- Settlement money (cash + fee pool + insurance fund + default-fund
  contributions) less the settlement tokens the vaults hold for cash never
  changes: variation margin, funding, fees, liquidations, the waterfall and
  collateral sales only move it; paying debt with settlement tokens and paying
  cash out move it and the reserves together.
- Per collateral token: quanta held + pending withdrawals (+ held for cash, for
  the settlement token) = credited - paid out.
- Per vault, at the end: its token balance = quantum x that ledger figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearing.block import BlockResult
from clearing.collateral import get_vault_quanta
from clearing.state import ClearingState

if TYPE_CHECKING:
    from node.devnet.chains import DevChain
    from node.devnet.network import Devnet


def get_money(state: ClearingState) -> int:
    cash = sum(a.cash for m in state.members.values() for a in m.sub_accounts.values())
    funds = sum(m.default_fund for m in state.members.values())
    reserves = sum(state.settlement_reserves.values())
    return cash + funds + state.fee_pool + state.insurance_fund - reserves


@dataclass
class Ledger:
    money: int = 0
    credited: dict[tuple[int, bytes], int] = field(default_factory=dict)

    def start(self, state: ClearingState) -> None:
        self.money = get_money(state)

    def record(self, result: BlockResult) -> None:
        """Count this block's credits and vault payouts per token."""
        for event in result.get_events():
            if event.kind in ("collateral_credited", "withdrawal_paid"):
                chain_id, token, quanta = (event.get(k) for k in ("chain_id", "token", "quanta"))
                assert isinstance(chain_id, int) and isinstance(token, bytes)
                assert isinstance(quanta, int)
                sign = 1 if event.kind == "collateral_credited" else -1
                key = (chain_id, token)
                self.credited[key] = self.credited.get(key, 0) + sign * quanta

    def check(self, state: ClearingState) -> str:
        """'' if money and every token are conserved so far; else what broke."""
        if get_money(state) != self.money:
            return f"cash+fees+insurance+default funds {get_money(state)} != {self.money}"
        vault_quanta = get_vault_quanta(state)
        for key, credited in self.credited.items():
            held = vault_quanta.get(key, 0)
            if held != credited:
                token = f"{key[0]}:0x{key[1].hex()}"
                return f"token {token}: held+pending {held} != net credited {credited}"
        return ""

    def check_vaults(self, state: ClearingState, dev: DevChain) -> str:
        vault_quanta = get_vault_quanta(state)
        balances = dev.get_vault_balances()
        for symbol, token in dev.deployed.tokens.items():
            key = (dev.chain.chain_id, token)
            quantum = state.collateral_tokens[key].quantum
            onchain = balances[symbol]
            if onchain != quantum * vault_quanta.get(key, 0):
                return (
                    f"vault {dev.chain.chain_id} {symbol}: balance {onchain} != quantum "
                    f"{quantum} x ledger {vault_quanta.get(key, 0)}"
                )
        return ""


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
            heights_per_s=round(net.replay.get_heights_per_s(), 2),
            commit_latency_p50_ms=net.get_latency_p50_ms(),
            events=dict(sorted(net.replay.events.items())),
            codes=dict(sorted(net.replay.codes.items())),
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
            not_exercised=list(net.not_exercised),
            waterfall=list(net.replay.waterfall_log),
            profit_withdrawals=list(net.profit_withdrawals),
            porting=list(net.replay.porting),
            auctions=net.replay.default_management.get_auctions(),
            margin_calls=net.replay.default_management.get_margin_calls(),
            house_flat=net.house_flat,
            rolls=net.replay.rolls.get_summary(),
            privacy_routes=net.privacy_routes,
        )

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}
