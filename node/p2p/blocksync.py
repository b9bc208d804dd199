"""Block sync: a lagging or new node fetches committed blocks with their commit certificates.

Gossip caches hold only part of what a node missed, so catch-up always goes
through this request/response protocol. Blocks and certificates travel as the
opaque bytes that storage keeps; the caller's `apply` verifies each one (commit
certificate against the validator set, then the block against the app) before
anything changes, and a peer that serves something that fails is scored down.

Wire (msgpack lists, first element the format version):
  request  [1, from_height, max_count]
  response [1, tip_height, [[height, block, certificate], ...]], heights from from_height on
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from node.limits import MAX_SYNC_RESPONSE_BYTES
from node.p2p import Offence, P2PNode, RequestFailed
from node.p2p.hedged import ask_in_turn
from node.storage import NodeStore
from records.codec import WIRE_VERSION, DecodeError, unpack
from records.declared import Bytes, Declared, Int, Items, Uint, declare_record

log = logging.getLogger(__name__)

PROTOCOL = "/clearnode/blocksync/1"
MAX_REQUEST_BYTES = 64
MAX_RESPONSE_BYTES = MAX_SYNC_RESPONSE_BYTES
MAX_BLOCKS_PER_RESPONSE = 64


class SyncApplyError(Exception):
    """A fetched block or certificate did not verify; raised by the caller's `apply`."""


@declare_record
@dataclass(frozen=True)
class SyncedBlock(Declared):
    height: Uint
    block: Annotated[bytes, Bytes()]
    certificate: Annotated[bytes, Bytes()]


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SyncRequest(Declared):
    from_height: Annotated[int, Int(1)]
    max_count: Annotated[int, Int(1, MAX_BLOCKS_PER_RESPONSE)]

    @staticmethod
    def decode(data: bytes) -> SyncRequest:
        return SyncRequest.from_fields(unpack(data, "SyncRequest", MAX_REQUEST_BYTES))


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SyncResponse(Declared):
    tip_height: Uint
    blocks: Annotated[tuple[SyncedBlock, ...], Items()]

    @staticmethod
    def decode(data: bytes, from_height: int) -> SyncResponse:
        """Checks the shape and that heights run consecutively from `from_height`."""
        response = SyncResponse.from_fields(unpack(data, "SyncResponse", MAX_RESPONSE_BYTES))
        for offset, block in enumerate(response.blocks):
            expected = from_height + offset
            if block.height != expected:
                raise DecodeError(
                    f"blocks[{offset}].height", f"{block.height}, expected {expected}"
                )
        last, tip = response.blocks[-1].height if response.blocks else 0, response.tip_height
        if last > tip:
            raise DecodeError("SyncResponse", f"block {last} above tip {tip}")
        return response


GetBlock = Callable[[int], SyncedBlock | None]
GetTip = Callable[[], int]
Apply = Callable[[SyncedBlock], Awaitable[None]]


def get_stored_block(store: NodeStore, height: int) -> SyncedBlock | None:
    """Block `height` as block sync serves it, once stored with its certificate (on
    CometBFT its signed header, stored once the next block is)."""
    stored = store.load_block(height)
    if stored is None or not stored.cert:
        return None
    return SyncedBlock(height, stored.block, stored.cert)


def serve_blocks(node: P2PNode, get_block: GetBlock, get_tip: GetTip) -> None:
    """Answers block-sync requests from storage, up to the response byte cap."""

    async def handle(peer: str, data: bytes) -> bytes:
        request = SyncRequest.decode(data)
        blocks: list[SyncedBlock] = []
        size = 0
        for height in range(request.from_height, request.from_height + request.max_count):
            found = get_block(height)
            if found is None:
                break
            size += len(found.block) + len(found.certificate) + 16
            if blocks and size > MAX_RESPONSE_BYTES - 1024:
                break
            blocks.append(found)
        return SyncResponse(get_tip(), tuple(blocks)).encode()

    node.set_request_handler(PROTOCOL, handle, MAX_REQUEST_BYTES)


async def fetch_blocks(node: P2PNode, peer: str, from_height: int, max_count: int) -> SyncResponse:
    """One round trip; RequestFailed or DecodeError (the peer is scored down) on failure."""
    request = SyncRequest(from_height, max_count)
    return await node.ask(
        peer, PROTOCOL, request.encode(), MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
        lambda data: SyncResponse.decode(data, from_height), Offence.UNDECODABLE,
    )  # fmt: skip


HEDGE_S = 2.0
"""A peer that has not answered a batch within this is not waited for alone: the next peer
is asked too, and the first answer is taken. A peer behind a link that stopped delivering
(cut one way, or a connection left half open) holds a request until the link watch closes
the link or the request times out, 5 to 10 s; an answering peer takes milliseconds."""


@dataclass
class FirstAnswer:
    """What asking peers in turn found: the first answer (None when every peer failed),
    the peers that failed before it came, and those still silent when it came."""

    peer: str | None = None
    response: SyncResponse | None = None
    failed: list[tuple[str, Exception]] = field(default_factory=list)
    outraced: list[str] = field(default_factory=list)


async def fetch_first(
    node: P2PNode, peers: Sequence[str], from_height: int, max_count: int, hedge_s: float
) -> FirstAnswer:
    """Asks `peers[0]` for blocks, the next peer too once every peer asked so far failed
    or `hedge_s` passed without an answer, and so on; returns the first answer (the other
    requests cancelled)."""
    found = FirstAnswer()

    async def ask(peer: str) -> bool:
        try:
            response = await fetch_blocks(node, peer, from_height, max_count)
        except (RequestFailed, DecodeError) as exc:
            found.failed.append((peer, exc))
            return False
        if found.peer is None:
            found.peer, found.response = peer, response
        return True

    asked = await ask_in_turn(peers, hedge_s, ask)
    done = {found.peer, *(peer for peer, _ in found.failed)}
    found.outraced = [peer for peer in asked if peer not in done]
    return found


async def sync_to_tip(
    node: P2PNode,
    peers: Sequence[str],
    next_height: int,
    apply: Apply,
    batch: int = 32,
    hedge_s: float = HEDGE_S,
) -> int:
    """Fetches and applies blocks from `next_height` until no peer has more; returns next height.

    Each batch comes from the first peer that answers (`fetch_first`, in `peers`' order).
    A peer whose request fails, that stayed silent while another answered, or whose
    answer fails to decode or verify (scored down) is skipped for the rest of this call:
    a peer that will not answer is waited for only while no other peer can.
    """
    usable = list(peers)
    while usable:
        answer = await fetch_first(node, usable, next_height, batch, hedge_s)
        for peer, exc in answer.failed:
            log.info("block sync from %s failed: %s", peer, exc)
            usable.remove(peer)
        if answer.peer is None or answer.response is None:
            continue
        for peer in answer.outraced:
            log.info("block sync from %s: no answer within %.1fs, another answered", peer,
                     hedge_s)  # fmt: skip
            usable.remove(peer)
        peer, response = answer.peer, answer.response
        try:
            for synced in response.blocks:
                await apply(synced)
                next_height = synced.height + 1
        except SyncApplyError as exc:
            log.warning("block from %s failed verification: %s", peer, exc)
            node.penalize(peer, Offence.BAD_RESPONSE)
            usable.remove(peer)
            continue
        if not response.blocks and response.tip_height >= next_height:
            log.warning(
                "peer %s is at height %d but holds no block %d (pruned): block sync needs a "
                "peer that keeps it, an archive node",
                peer, response.tip_height, next_height,
            )  # fmt: skip
        if not response.blocks or response.tip_height < next_height:
            usable.remove(peer)
    return next_height
