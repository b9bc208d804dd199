"""The roles a solvency report publishes: the admitted clearing members and, for each
client account, its clearing member and segregation model.

Not its backup, its close-out height or pending offers: those stay with the validators.
The state root commits to these bytes as a leaf of their own (clearing/transition/root.py), so a
verifier checks them under a report's root and shows, per clearing member, that its
house and its clients' accounts are proven as their model requires, without any
client's positions (proofs/clearing_members.py). Who clears through whom is public
through them (docs/privacy.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise

from clearing.roles import NO_MEMBER, SegregationModel
from clearing.state import ClearingState
from records.codec import (
    DecodeError,
    expect_bytes,
    expect_enum,
    expect_int,
    expect_list,
    pack,
    unpack,
)

PUBLISHED_ROLES_VERSION = 1
PUBLISHED_ROLES_DOMAIN = b"clearnode-published-roles-v1"
MAX_PUBLISHED_ROLES_BYTES = 8 * 1024 * 1024  # some 140,000 client accounts
ClientRole = tuple[bytes, bytes, SegregationModel]  # (client, clearing member, model)


@dataclass(frozen=True, slots=True)
class PublishedRoles:
    """Clearing members in address order; clients in address order, each with its member
    (``NO_MEMBER`` while its member defaulted and no backup took it) and its model. Both
    empty under open membership (every address clears for itself)."""

    clearing_members: tuple[bytes, ...]
    clients: tuple[ClientRole, ...]

    def encode(self) -> bytes:
        clients = [[c, m, model.value] for c, m, model in self.clients]
        return pack([PUBLISHED_ROLES_VERSION, list(self.clearing_members), clients])

    @classmethod
    def decode(cls, data: bytes) -> PublishedRoles:
        """Canonical bytes only (strictly sorted, re-encoded equal); DecodeError names the
        first bad field."""
        if len(data) > MAX_PUBLISHED_ROLES_BYTES:
            raise DecodeError("published roles", f"{len(data)} bytes exceed "
                              f"{MAX_PUBLISHED_ROLES_BYTES}")  # fmt: skip
        version, members, clients = expect_list(unpack(data, "published roles"), "roles", 3)
        if expect_int(version, "roles.version") != PUBLISHED_ROLES_VERSION:
            raise DecodeError("roles.version", f"{version}, expected {PUBLISHED_ROLES_VERSION}")
        admitted = tuple(expect_bytes(m, "clearing_member", 20)
                         for m in expect_list(members, "clearing_members"))  # fmt: skip
        roles = []
        for item in expect_list(clients, "clients"):
            client, member, model = expect_list(item, "client", 3)
            roles.append((
                expect_bytes(client, "client", 20),
                NO_MEMBER if member == NO_MEMBER else expect_bytes(member, "clearing_member", 20),
                expect_enum(SegregationModel, model, "model"),
            ))  # fmt: skip
        if any(a >= b for a, b in pairwise(admitted)):
            raise DecodeError("clearing_members", "must be strictly sorted")
        if any(a[0] >= b[0] for a, b in pairwise(roles)):
            raise DecodeError("clients", "must be strictly sorted")
        found = cls(admitted, tuple(roles))
        if found.encode() != data:
            raise DecodeError("published roles", "not canonical")
        return found


def get_published_roles(state: ClearingState) -> PublishedRoles:
    clients = tuple((c, a.clearing_member, a.model) for c, a in sorted(state.clients.items()))
    return PublishedRoles(tuple(sorted(state.clearing_members)), clients)


def hash_published_roles(data: bytes) -> bytes:
    return hashlib.sha256(PUBLISHED_ROLES_DOMAIN + data).digest()
