"""The client SDK of a clearnode network: members, venues, bridges and relayers.

    from clearnode.client import Client, Member

    async with await Client.connect("http://127.0.0.1:8080") as node:
        alice = Member(private_key)
        account = await node.account(alice)

docs/sdk.md is the guide. The package imports clearing's records and signing, proofs'
verifier and bridge's vault calls; never the node, consensus, libp2p or trio.
"""

from clearnode.client.api import Client
from clearnode.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    GenesisMismatch,
    NotFound,
    PayloadTooLarge,
    Rejected,
    ServerError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    Unreachable,
    UnsupportedMediaType,
)
from clearnode.client.signers import Member, MemberRequest, Venue
from clearnode.client.sse import ServerEvent
from clearnode.client.vault import Vault
from clearnode.client.verify import ReportCheck, get_validators, verify_report

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "GenesisMismatch",
    "Member",
    "MemberRequest",
    "NotFound",
    "PayloadTooLarge",
    "Rejected",
    "ReportCheck",
    "ServerError",
    "ServerEvent",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "Unreachable",
    "UnsupportedMediaType",
    "Vault",
    "Venue",
    "get_validators",
    "verify_report",
]
