"""The invariants the devnet checks on every block it applies, and on the vaults.

- Settlement money (cash + fee pool + insurance fund + default-fund
  contributions) less the settlement tokens the vaults hold for cash never
  changes: variation margin, funding, fees, liquidations, the waterfall and
  collateral sales only move it; paying debt with settlement tokens and paying
  cash out move it and the reserves together.
- Per collateral token: quanta held + pending withdrawals (+ held for cash, for
  the settlement token) = credited - paid out = what the state keeps (`vault_quanta`).
- Per vault, at the end: its token balance = quantum x that ledger figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clearing.collateral import count_vault_quanta
from clearing.state import ClearingState
from clearing.transition.block import BlockResult

if TYPE_CHECKING:
    from devnet.chains import DevChain


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
        vault_quanta = count_vault_quanta(state)
        for key, credited in self.credited.items():
            held = vault_quanta.get(key, 0)
            if held != credited:
                token = f"{key[0]}:0x{key[1].hex()}"
                return f"token {token}: held+pending {held} != net credited {credited}"
        if state.vault_quanta != vault_quanta:
            return f"the vaults' holdings kept {state.vault_quanta} != counted {vault_quanta}"
        return ""

    def check_vaults(self, state: ClearingState, dev: DevChain) -> str:
        vault_quanta = count_vault_quanta(state)
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
