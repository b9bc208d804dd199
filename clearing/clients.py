"""Reading the clearing relationship (clearing/roles.py) off the state: who guarantees
an address, who may trade, the clients of a clearing member."""

from __future__ import annotations

from clearing.errors import NotCleared
from clearing.roles import NO_MEMBER, ClientAccount
from clearing.state import ClearingState, MemberAddress
from records.codec import DecodeError, expect_bytes, expect_list


def is_open_membership(state: ClearingState) -> bool:
    """The genesis names no clearing members: every address but a client clears for
    itself, as before clearing members existed."""
    return state.genesis.clearing_members is None


def get_clearing_member(state: ClearingState, address: MemberAddress) -> MemberAddress:
    """The clearing member that answers for ``address``: a client's member (``NO_MEMBER``
    once it defaulted), anyone else itself."""
    client = state.clients.get(address)
    return address if client is None else client.clearing_member


def get_guarantors(state: ClearingState) -> dict[MemberAddress, MemberAddress]:
    """Each client under a clearing member -> that member: whose house resources meet a
    shortfall of the client's after its own collateral."""
    return {c: a.clearing_member for c, a in sorted(state.clients.items()) if a.is_attached()}


def get_clients(state: ClearingState, member: MemberAddress) -> list[tuple[bytes, ClientAccount]]:
    """The client accounts under ``member``, by client address."""
    return [(c, a) for c, a in sorted(state.clients.items()) if a.clearing_member == member]


def check_cleared(state: ClearingState, address: MemberAddress) -> None:
    """Raise ``NotCleared`` unless some clearing member guarantees ``address``'s trades."""
    client = state.clients.get(address)
    if client is not None:
        if not client.is_attached():
            raise NotCleared(address, NO_MEMBER)
        return
    if not is_open_membership(state) and address not in state.clearing_members:
        raise NotCleared(address, NO_MEMBER)


ROLE_FIELDS = 3


def get_role_fields(state: ClearingState) -> list[object]:
    """What the state root and snapshots hold of the roles: the admitted clearing members,
    the client accounts and the pending offers, each sorted by address."""
    return [
        sorted(state.clearing_members),
        [[c, *a.to_fields()] for c, a in sorted(state.clients.items())],
        [[c, *a.to_fields()] for (c, _), a in sorted(state.client_offers.items())],
    ]


def decode_role_fields(state: ClearingState, fields: list[object]) -> None:
    """Restore ``get_role_fields`` (``DecodeError`` on a bad or unsorted entry)."""
    members, clients, offers = fields
    admitted = [expect_bytes(m, "clearing_member", 20) for m in expect_list(members, "members")]
    if admitted != sorted(set(admitted)):
        raise DecodeError("clearing_members", "must be strictly sorted")
    state.clearing_members = set(admitted)
    state.clients = {}
    for item in expect_list(clients, "clients"):
        address, *account = expect_list(item, "client", 5)
        client = expect_bytes(address, "client", 20)
        if state.clients and client <= next(reversed(state.clients)):
            raise DecodeError("clients", "must be strictly sorted")
        state.clients[client] = ClientAccount.from_fields(account)
    state.client_offers = {}
    for item in expect_list(offers, "client_offers"):
        address, *terms = expect_list(item, "client_offer", 5)
        offer = ClientAccount.from_fields(terms)
        key = (expect_bytes(address, "client", 20), offer.clearing_member)
        if state.client_offers and key <= next(reversed(state.client_offers)):
            raise DecodeError("client_offers", "must be strictly sorted")
        state.client_offers[key] = offer
