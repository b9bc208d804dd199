"""The RPC CometBFT's state sync reads, relayed between nodes over libp2p.

CometBFT's state sync checks a snapshot's app hash with a light client, which reads
commits, validator sets and consensus parameters from two RPC servers (`[statesync]
rpc_servers`). A clearnode node's CometBFT RPC is a Unix socket only its operator
reaches (it serves the mempool and every block's transactions), so no node exposes one.
Instead every node answers `/clearnode/light-rpc/1` on its p2p host, to the peers it
lets connect, with those three reads of its own CometBFT's RPC and nothing else
(`serve_light_rpc`); a node that state-syncs serves its light client two Unix sockets in
its CometBFT home that relay each request to a peer (`serve_light_sockets`), each
socket starting from another peer, so the light client's witness is not its primary.
The light client verifies everything it reads: a peer can only make a sync fail.

The block it trusts (`[statesync] trust_height` and `trust_hash`, `get_trusted_block`) is
block 1, whose commit the node checks against the genesis's validators, or the block of
`state_sync.checkpoint`, whose header must have the checkpoint's time and validator set
(CometBFT's light client then checks that set's commit of it).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import trio

from clearing.genesis import Genesis
from clearing.validator_set import has_power
from lightclient.anchor import Checkpoint
from lightclient.cometbft import CometValidatorPowers, parse_commit, parse_header
from lightclient.commit import InvalidCommit
from node.api.http import Handler, Request, Response, json_response, serve_http
from node.cometbft.home import TrustedBlock
from node.cometbft.rpc import CometRpc, CometRpcError
from node.cometbft.transport import open_unix_listener
from node.p2p import P2PNode, RequestFailed
from node.storage.comet_block import SignedHeader
from records.codec import MAX_INT64, WIRE_VERSION, DecodeError, unpack
from records.declared import Choice, Declared, Uint, declare_record

log = logging.getLogger(__name__)

LIGHT_RPC_PROTOCOL = "/clearnode/light-rpc/1"
MAX_LIGHT_REQUEST_BYTES = 64
MAX_LIGHT_RESPONSE_BYTES = 4 << 20
"""A commit of the largest validator set, or a page of 100 validators, with room."""
MAX_JSON_RPC_BODY_BYTES = 4096
UNAVAILABLE = "unavailable"
"""A peer's answer when its own CometBFT did not answer: the asker tries the next peer."""


class LightMethod(StrEnum):
    """The reads of CometBFT's RPC a light client and state sync make; no other."""

    COMMIT = "commit"
    VALIDATORS = "validators"
    CONSENSUS_PARAMS = "consensus_params"


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class LightRequest(Declared):
    """One read; 0 for a parameter the light client left out (the latest height, the
    first page, CometBFT's default page size)."""

    method: Annotated[LightMethod, Choice()]
    height: Uint
    page: Uint
    per_page: Uint

    @staticmethod
    def decode(data: bytes) -> LightRequest:
        return LightRequest.from_fields(unpack(data, "LightRequest", MAX_LIGHT_REQUEST_BYTES))

    def get_params(self) -> dict[str, str]:
        """The JSON-RPC params, as CometBFT's client writes them (integers as strings)."""
        named = {"height": self.height, "page": self.page, "per_page": self.per_page}
        return {name: str(value) for name, value in named.items() if value}


class LightRpcError(Exception):
    """No peer answered a light client's read, or the one that did answered nonsense."""


def serve_light_rpc(p2p: P2PNode, rpc: CometRpc) -> None:
    """Answers peers' reads from this node's CometBFT: its JSON-RPC answer as it sent it
    (a result or CometBFT's error, which the light client reads: "height too high")."""

    async def answer(peer: str, data: bytes) -> bytes:
        request = LightRequest.decode(data)
        try:
            return (await rpc.post(request.method.value, request.get_params())).content
        except CometRpcError as exc:  # this node's CometBFT is down: the asker tries another
            return json.dumps({UNAVAILABLE: exc.reason}).encode()

    p2p.set_request_handler(LIGHT_RPC_PROTOCOL, answer, MAX_LIGHT_REQUEST_BYTES)


async def ask_peers(
    p2p: P2PNode,
    request: LightRequest,
    first: int = 0,
    is_wanted: Callable[[dict[str, Any]], bool] = lambda answer: True,
) -> dict[str, Any]:
    """The JSON-RPC answer (a result or CometBFT's error) of the first connected peer, from
    the `first`th in id order, that gives one `is_wanted`; LightRpcError when none does."""
    peers = sorted(p2p.connected_peers())
    if not peers:
        raise LightRpcError("no peer connected")
    order = peers[first % len(peers) :] + peers[: first % len(peers)]
    for peer in order:
        try:
            data = await p2p.request(
                peer, LIGHT_RPC_PROTOCOL, request.encode(), MAX_LIGHT_REQUEST_BYTES,
                MAX_LIGHT_RESPONSE_BYTES,
            )  # fmt: skip
            answer = json.loads(data)
        except RequestFailed as exc:
            log.info("light client read %s from %s failed: %s", request.method, peer, exc.reason)
            continue
        except ValueError:
            log.warning("light client read %s from %s: not JSON", request.method, peer)
            continue
        if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
            log.info("light client read %s from %s: none (%s)", request.method, peer,
                     answer.get(UNAVAILABLE) if isinstance(answer, dict) else answer)  # fmt: skip
            continue
        if is_wanted(answer):
            return answer
        log.info("light client read %s from %s: %s", request.method, peer, answer.get("error"))
    raise LightRpcError(f"no peer answered {request.method} at height {request.height}")


def read_json_rpc(body: bytes) -> tuple[object, LightRequest]:
    """The id and the read of a JSON-RPC request of CometBFT's client; ValueError if it is
    none of the three reads."""
    call = json.loads(body)
    if not isinstance(call, dict):
        raise ValueError("not a JSON-RPC request")
    method, params = call.get("method"), call.get("params") or {}
    if method not in set(LightMethod) or not isinstance(params, dict):
        raise ValueError(f"{method!r} is not a read this relay serves")
    numbers = [int(params.get(name) or 0) for name in ("height", "page", "per_page")]
    if not all(0 <= n <= MAX_INT64 for n in numbers):
        raise ValueError(f"{method} params out of range: {params}")
    height, page, per_page = numbers
    return call.get("id"), LightRequest(LightMethod(method), height, page, per_page)


def json_rpc_error(call_id: object, message: str) -> Response:
    error = {"code": -32603, "message": "Internal error", "data": message}
    return json_response(200, {"jsonrpc": "2.0", "id": call_id, "error": error})


async def serve_light_sockets(
    p2p: P2PNode,
    paths: tuple[Path, ...],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """One JSON-RPC relay on each of `paths` until cancelled, the `i`th asking peers from
    the `i`th on."""

    def make_handler(first: int) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                call_id, read = read_json_rpc(request.body)
            except (ValueError, TypeError) as exc:
                return json_rpc_error(None, str(exc))
            try:
                answer = await ask_peers(p2p, read, first)
            except LightRpcError as exc:
                return json_rpc_error(call_id, str(exc))
            return json_response(200, {"jsonrpc": "2.0", "id": call_id, **{
                k: v for k, v in answer.items() if k in ("result", "error")}})  # fmt: skip

        return handle

    def refuse(status: int, kind: str, message: str, details: dict[str, object]) -> Response:
        return json_rpc_error(None, f"{kind}: {message}")

    async with trio.open_nursery() as nursery:
        for first, path in enumerate(paths):
            listener = await open_unix_listener(path)
            await nursery.start(functools.partial(
                serve_http, make_handler(first), "", 0, listeners=[listener],
                max_body_bytes=MAX_JSON_RPC_BODY_BYTES, on_error=refuse,
            ))  # fmt: skip
        task_status.started()


async def fetch_signed_header(p2p: P2PNode, height: int) -> SignedHeader:
    """Block `height`'s signed header from the first peer that has it (a pruned one
    answers CometBFT's error: the next is asked)."""
    read = LightRequest(LightMethod.COMMIT, height, 0, 0)
    answer = await ask_peers(p2p, read, is_wanted=lambda found: "result" in found)
    try:
        signed = answer["result"]["signed_header"]
        return SignedHeader(parse_header(signed["header"]), parse_commit(signed["commit"]))
    except (KeyError, TypeError, ValueError, DecodeError) as exc:
        raise LightRpcError(f"the commit of block {height}: {exc}") from None


class UntrustedBlock(LightRpcError):
    """The block a peer gave to be trusted is not the chain's."""


async def get_trusted_block(
    p2p: P2PNode, genesis: Genesis, chain: str, checkpoint: Checkpoint | None
) -> TrustedBlock:
    """Block 1, checked against the genesis's validators, or the checkpoint's block."""
    height = 1 if checkpoint is None else checkpoint.height
    signed = await fetch_signed_header(p2p, height)
    return check_trusted_block(signed, height, chain, genesis, checkpoint)


def check_trusted_block(
    signed: SignedHeader, height: int, chain: str, genesis: Genesis, checkpoint: Checkpoint | None
) -> TrustedBlock:
    """`signed` as the block to trust: block `height` of `chain`, with the checkpoint's
    time and validator set, or without one committed by the genesis's validators;
    UntrustedBlock saying why not."""
    header, commit = signed.header, signed.commit
    if (header.height, header.chain_id) != (height, chain) or commit.block_hash != header.hash:
        raise UntrustedBlock(
            f"the block a peer gave for block {height} of {chain} is block {header.height} "
            f"of {header.chain_id}, or its commit is of another"
        )
    if checkpoint is not None:
        if (header.time_ms, header.validators_hash) != (
            checkpoint.time_ms,
            checkpoint.validators_hash,
        ):
            raise UntrustedBlock(f"block {height} a peer gave is not the checkpoint's")
        return TrustedBlock(height, header.hash)
    genesis_set = [(v.pubkey, v.power) for v in genesis.validators if has_power(v)]
    try:
        commit.verify(chain, CometValidatorPowers.of(genesis_set))
    except InvalidCommit as exc:
        raise UntrustedBlock(
            f"block {height} a peer gave is not committed by the genesis's validators: {exc}"
        ) from None
    return TrustedBlock(height, header.hash)
