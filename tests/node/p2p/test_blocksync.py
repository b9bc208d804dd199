"""Block sync between real libp2p hosts on loopback; a peer serving bad blocks is scored down."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
import trio

from node.engine.consensus_loop import catch_up
from node.p2p import Offence
from node.p2p.blocksync import (
    MAX_REQUEST_BYTES,
    PROTOCOL,
    SyncApplyError,
    SyncedBlock,
    SyncRequest,
    SyncResponse,
    fetch_blocks,
    serve_blocks,
    sync_to_tip,
)
from records.codec import DecodeError
from tests.node.p2p.support import line


def chain(tip: int, corrupt_at: int = 0) -> dict[int, SyncedBlock]:
    return {
        h: SyncedBlock(h, b"bad" if h == corrupt_at else b"block-%d" % h, b"cert-%d" % h)
        for h in range(1, tip + 1)
    }


async def test_lagging_node_syncs_to_the_tip_in_batches() -> None:
    blocks = chain(150)
    applied: list[int] = []

    async def apply(synced: SyncedBlock) -> None:
        assert synced == blocks[synced.height]
        applied.append(synced.height)

    async with line("a", "b") as (a, b):
        serve_blocks(a, blocks.get, lambda: 150)
        assert await sync_to_tip(b, [a.peer_id], 1, apply) == 151
    assert applied == list(range(1, 151))


async def test_peer_serving_a_bad_block_is_penalized_and_another_is_used() -> None:
    honest, liar = chain(40), chain(40, corrupt_at=5)
    applied: list[int] = []

    async def apply(synced: SyncedBlock) -> None:
        if synced.block == b"bad":
            raise SyncApplyError(f"block {synced.height} does not verify")
        applied.append(synced.height)

    async with line("liar", "me", "honest") as (bad, me, good):
        serve_blocks(bad, liar.get, lambda: 40)
        serve_blocks(good, honest.get, lambda: 40)
        assert await sync_to_tip(me, [bad.peer_id, good.peer_id], 1, apply, batch=8) == 41
        assert me.scores.get_score(bad.peer_id) < 0
    assert applied == list(range(1, 41))


async def test_a_pruned_peer_is_skipped_unscored_for_one_that_holds_the_blocks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = chain(40)
    pruned = {h: b for h, b in archive.items() if h > 30}
    applied: list[int] = []

    async def apply(synced: SyncedBlock) -> None:
        applied.append(synced.height)

    async with line("pruned", "me", "archive") as (short, me, full):
        serve_blocks(short, pruned.get, lambda: 40)
        serve_blocks(full, archive.get, lambda: 40)
        assert await sync_to_tip(me, [short.peer_id, full.peer_id], 1, apply, batch=8) == 41
        assert me.scores.get_score(short.peer_id) == 0
    assert applied == list(range(1, 41))
    assert f"peer {short.peer_id} is at height 40 but holds no block 1 (pruned)" in caplog.text


async def test_bad_request_gets_no_answer_and_costs_the_asker() -> None:
    async with line("a", "b") as (a, b):
        serve_blocks(a, chain(3).get, lambda: 3)
        with pytest.raises(Exception, match="without a response"):
            await b.request(a.peer_id, "/clearnode/blocksync/1", msgpack.packb([1, 0, 5]), 64, 1024)
        assert a.scores.get_score(b.peer_id) == -Offence.UNDECODABLE.penalty
        response = await fetch_blocks(b, a.peer_id, 3, 10)
        assert response == SyncResponse(3, (SyncedBlock(3, b"block-3", b"cert-3"),))


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",
        msgpack.packb([2, 1, 1]),
        msgpack.packb([1, 1]),
        msgpack.packb([1, True, 1]),
        msgpack.packb([1, 1, 65]),
        msgpack.packb([1, 0, 1]),
    ],
)
def test_malformed_requests_are_typed_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        SyncRequest.decode(data)


@pytest.mark.parametrize(
    "rows",
    [
        [[2, b"b", b"c"]],
        [[1, "b", b"c"]],
        [[1, b"b"]],
        [[1, b"b", b"c"], [3, b"b", b"c"]],
        [[1, b"b", b"c"], [2, b"b", b"c"], [3, b"b", b"c"]],
    ],
)
def test_malformed_responses_are_typed_errors(rows: list[object]) -> None:
    with pytest.raises(DecodeError):
        SyncResponse.decode(msgpack.packb([1, 2, rows]), 1)


class CommittedMeanwhile:
    """A driver whose consensus committed two blocks after its sync started."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.store = self

    def get_height(self) -> int:
        return self.height

    async def sync_blocks(self, fetch: Any) -> int:
        def apply(block: object, certificate: object) -> None:
            raise AssertionError("a block this node already has was applied again")

        await fetch(self.height - 1, apply)
        return 0


async def test_blocks_committed_during_a_sync_are_skipped_not_held_against_the_peer() -> None:
    blocks = chain(10)
    async with line("a", "b") as (a, b):
        serve_blocks(a, blocks.get, lambda: 10)
        assert await catch_up(b, CommittedMeanwhile(10)) == 0  # type: ignore[arg-type]
        assert b.scores.get_score(a.peer_id) == 0


async def test_a_peer_that_does_not_answer_is_not_waited_for() -> None:
    """A peer behind a link that stopped delivering holds each request until it times out
    (here after ten minutes): the next peer is asked once `hedge_s` passed, and the silent
    one is not asked again in this sync, not even whether it has more."""
    blocks = chain(40)
    applied: list[int] = []
    release = trio.Event()

    async def silent(peer: str, request: bytes) -> bytes:
        await release.wait()
        return b""

    async def apply(synced: SyncedBlock) -> None:
        applied.append(synced.height)

    async with line("deaf", "me", "honest", request_timeout_s=600) as (deaf, me, good):
        deaf.set_request_handler(PROTOCOL, silent, MAX_REQUEST_BYTES)
        serve_blocks(good, blocks.get, lambda: 40)
        peers = [deaf.peer_id, good.peer_id]
        with trio.fail_after(60):
            assert await sync_to_tip(me, peers, 1, apply, batch=8, hedge_s=0.5) == 41
        release.set()
        assert me.scores.get_score(deaf.peer_id) == 0
    assert applied == list(range(1, 41))
