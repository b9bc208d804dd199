"""Admitting a clearing member (delayed: the members see it coming) or removing one
(delayed too: its clients must have moved to another member first). A clearing
member posts default-fund contributions and guarantees its clients (clearing/roles.py);
a genesis without ``clearing_members`` still admits nobody but lets every address clear
for itself, and an admission there only lets that member take clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clearing.clients import get_clients
from clearing.governance.draft import Draft, declare_change
from clearing.governance.errors import (
    ClearingMemberAdmitted,
    ClearingMemberHasClients,
    IsAClient,
    NotAClearingMember,
)
from clearing.risk.params import INSURANCE_MEMBER
from clearing.state import ClearingState
from lightclient.records import Address, Declared


@declare_change
@dataclass(frozen=True, slots=True)
class AdmitClearingMember(Declared):
    NAME: ClassVar[str] = "admit_clearing_member"
    EMERGENCY: ClassVar[bool] = False
    member: Address

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """Not admitted yet, not a client, not the clearing house's own account."""
        if self.member in draft.clearing_members:
            raise ClearingMemberAdmitted(self.member)
        client = state.clients.get(self.member)
        if client is not None:
            raise IsAClient(self.member, client.clearing_member)
        if self.member == INSURANCE_MEMBER:
            raise IsAClient(self.member, INSURANCE_MEMBER)
        draft.clearing_members.add(self.member)


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveClearingMember(Declared):
    NAME: ClassVar[str] = "remove_clearing_member"
    EMERGENCY: ClassVar[bool] = False
    member: Address

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """Admitted, and neither the clearing member nor the backup of any client."""
        if self.member not in draft.clearing_members:
            raise NotAClearingMember(self.member)
        clients = len(get_clients(state, self.member))
        backups = sum(a.backup == self.member for a in state.clients.values())
        if clients or backups:
            raise ClearingMemberHasClients(self.member, clients, backups)
        draft.clearing_members.discard(self.member)


MEMBERSHIP_CHANGES = (AdmitClearingMember, RemoveClearingMember)
