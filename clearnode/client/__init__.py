"""The client SDK of a clearnode network: members, venues, bridges and relayers.

    from clearnode.client import Client, Member

    async with await Client.connect("http://127.0.0.1:8080") as node:
        alice = Member(private_key)
        account = await node.account(alice)

docs/sdk.md is the guide, docs/sdk-reference.md every public call. It installs on its own
as the clearnode-client distribution (client/): the package imports clearing's records
and signing, lightclient's and proofs' verifiers, bridge's vault ABI, EIP-712 and relaying
rules, and its own JSON-RPC client of a chain (jsonrpc.py, transactions.py: the vaults'
reserves, deposits, relaying); never the node, consensus, web3, libp2p or trio.
"""

from clearing.transition.trade import Trade
from clearnode.client.api import Client
from clearnode.client.errors import (
    ApiError,
    BadRequest,
    CheckRefused,
    ClientError,
    Conflict,
    GenesisMismatch,
    JsonRpcError,
    NotAContract,
    NotFound,
    PayloadTooLarge,
    Pruned,
    Rejected,
    RpcBadAnswer,
    RpcHttpStatus,
    RpcRefused,
    RpcUnreachable,
    RpcWrongChain,
    ServerError,
    TransactionDropped,
    TransactionError,
    TransactionPending,
    TransactionReverted,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    Unreachable,
    UnsupportedMediaType,
)
from clearnode.client.jsonrpc import JsonRpc
from clearnode.client.signers import Member, MemberRequest, Venue
from clearnode.client.sse import ServerEvent
from clearnode.client.vault import Vault
from clearnode.client.verify import GivenGenesis, ReportCheck, pin_genesis, verify_report

__all__ = [
    "ApiError",
    "BadRequest",
    "CheckRefused",
    "Client",
    "ClientError",
    "Conflict",
    "GenesisMismatch",
    "GivenGenesis",
    "JsonRpc",
    "JsonRpcError",
    "Member",
    "MemberRequest",
    "NotAContract",
    "NotFound",
    "PayloadTooLarge",
    "Pruned",
    "Rejected",
    "ReportCheck",
    "RpcBadAnswer",
    "RpcHttpStatus",
    "RpcRefused",
    "RpcUnreachable",
    "RpcWrongChain",
    "ServerError",
    "ServerEvent",
    "Trade",
    "TransactionDropped",
    "TransactionError",
    "TransactionPending",
    "TransactionReverted",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "Unreachable",
    "UnsupportedMediaType",
    "Vault",
    "Venue",
    "pin_genesis",
    "verify_report",
]
