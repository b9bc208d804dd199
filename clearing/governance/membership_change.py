"""Admitting a clearing member (delayed: the members see it coming) or removing one
(delayed too: its clients must have moved to another member first). A clearing
member posts default-fund contributions and guarantees its clients (clearing/roles.py);
a genesis without ``clearing_members`` still admits nobody but lets every address clear
for itself, and an admission there only lets that member take clients."""

from __future__ import annotations

from clearing.clients import get_clients
from clearing.governance.draft import Draft
from clearing.governance.errors import (
    ClearingMemberAdmitted,
    ClearingMemberHasClients,
    IsAClient,
    NotAClearingMember,
)
from clearing.governance_changes import AdmitClearingMember, RemoveClearingMember
from clearing.risk.params import INSURANCE_MEMBER
from clearing.state import ClearingState


def apply_admit_clearing_member(
    change: AdmitClearingMember, draft: Draft, state: ClearingState
) -> None:
    """Not admitted yet, not a client, not the clearing house's own account."""
    if change.member in draft.clearing_members:
        raise ClearingMemberAdmitted(change.member)
    client = state.clients.get(change.member)
    if client is not None:
        raise IsAClient(change.member, client.clearing_member)
    if change.member == INSURANCE_MEMBER:
        raise IsAClient(change.member, INSURANCE_MEMBER)
    draft.clearing_members.add(change.member)


def apply_remove_clearing_member(
    change: RemoveClearingMember, draft: Draft, state: ClearingState
) -> None:
    """Admitted, and neither the clearing member nor the backup of any client."""
    if change.member not in draft.clearing_members:
        raise NotAClearingMember(change.member)
    clients = len(get_clients(state, change.member))
    backups = sum(a.backup == change.member for a in state.clients.values())
    if clients or backups:
        raise ClearingMemberHasClients(change.member, clients, backups)
    draft.clearing_members.discard(change.member)
