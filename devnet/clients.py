"""The devnet's clearing members and their clients (docs/clearing-members.md).

Every simulated member is an admitted clearing member. The levered BTC long, which the
crash defaults, guarantees two client accounts opened at genesis: an omnibus one with
no backup and an individually segregated one backed by the first market maker. When
the crash defaults their member, the segregated client is ported to the market maker
and the omnibus one, which no backup takes, is closed out; the summary prints one
`ported:` (or `closed out:`) line per client from the committed events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clearnode.client import Member as MemberKey
from devnet.market import MARKET_MAKER, Member, get_role

GUARANTOR_ROLE = "levered BTC long"


@dataclass(frozen=True)
class Client:
    key: MemberKey
    name: str
    model: str  # "omnibus" or "segregated"
    backup_role: str | None  # the role of its backup clearing member, if it names one

    @classmethod
    def named(cls, name: str, model: str, backup_role: str | None) -> Client:
        """The client whose public test key derives from its name (as a member's)."""
        return cls(MemberKey.from_sandbox(name), name, model, backup_role)

    @property
    def address(self) -> bytes:
        return self.key.address


CLIENTS = (
    Client.named("client-omnibus", "omnibus", None),
    Client.named("client-segregated", "segregated", MARKET_MAKER),
)


def add_clearing_members(doc: dict[str, Any], members: list[Member]) -> None:
    """Admit every member as a clearing member and open the clients' accounts under the
    member the crash defaults."""
    doc["clearing_members"] = ["0x" + m.address.hex() for m in members]
    guarantor = get_role(members, GUARANTOR_ROLE)
    doc["clients"] = [
        {
            "address": "0x" + client.address.hex(),
            "clearing_member": "0x" + guarantor.address.hex(),
            "model": client.model,
            **(
                {"backup": "0x" + get_role(members, client.backup_role).address.hex()}
                if client.backup_role
                else {}
            ),
        }
        for client in CLIENTS
    ]


def get_client_name(address: object) -> str | None:
    return next((c.name for c in CLIENTS if c.address == address), None)


PORTING_KINDS = ("ported", "client_detached")


def describe_porting(
    height: int, kind: str, data: dict[str, Any], name_of: Callable[[object], str]
) -> str:
    """One summary line per client a defaulted member left: `ported: <client> -> <new
    clearing member>`, or `closed out:` when no backup took it."""
    client, defaulter = name_of(data["member"]), name_of(data["defaulter"])
    if kind == "ported":
        return (
            f"ported: {client} ({data['model']}) -> {name_of(data['clearing_member'])}, "
            f"at height {height} when {defaulter} defaulted, positions and collateral kept"
        )
    return f"closed out: {client} at height {height} when {defaulter} defaulted: no backup took it"
