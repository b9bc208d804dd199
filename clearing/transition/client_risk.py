"""What a clearing member sees of its clients: their risk, never their keys.

A client's figures per sub-account (equity, initial margin, positions, an open margin
call) and what guaranteeing it may cost its member (``get_guarantee_need``: the stress
loss beyond its own equity, what a backup needs headroom for). ``get_member_exposure``
adds up what the member answers for: its clients' margin shortfalls now (equity below
initial margin, which its house pays should the client default) and their stress needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.clients import get_clients
from clearing.default.porting import get_guarantee_need
from clearing.risk.engine import get_account_initial_margin, get_quantities
from clearing.roles import ClientAccount
from clearing.state import ClearingState, MemberAddress, get_account_equity


@dataclass(frozen=True, slots=True)
class SubAccountRisk:
    sub_account: int
    equity: int
    initial_margin: int
    positions: tuple[tuple[str, int], ...]  # (instrument, signed lots), sorted
    margin_call_due: int  # 0: no open call

    @property
    def shortfall(self) -> int:
        """How far equity is below initial margin (0 when covered)."""
        return max(self.initial_margin - self.equity, 0)


@dataclass(frozen=True, slots=True)
class ClientRisk:
    client: MemberAddress
    account: ClientAccount
    sub_accounts: tuple[SubAccountRisk, ...]
    guarantee_need: int


def get_client_risk(state: ClearingState, client: MemberAddress) -> ClientRisk:
    record = state.members.get(client)
    subs = [] if record is None else sorted(record.sub_accounts.items())
    figures = tuple(
        SubAccountRisk(
            sub, get_account_equity(state, account), get_account_initial_margin(state, account),
            tuple(sorted(get_quantities(account).items())),
            0 if account.margin_call is None else account.margin_call.amount_due,
        )
        for sub, account in subs
    )  # fmt: skip
    return ClientRisk(client, state.clients[client], figures, get_guarantee_need(state, client))


def get_clients_risk(state: ClearingState, member: MemberAddress) -> list[ClientRisk]:
    """Every client under ``member``, by address."""
    return [get_client_risk(state, client) for client, _ in get_clients(state, member)]


def get_member_exposure(risks: list[ClientRisk]) -> tuple[int, int]:
    """(the clients' margin shortfall now, their stress needs) that the member answers for."""
    shortfall = sum(s.shortfall for r in risks for s in r.sub_accounts)
    return shortfall, sum(r.guarantee_need for r in risks)
