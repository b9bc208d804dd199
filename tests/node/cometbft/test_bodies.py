"""Where a CometBFT node finds the bodies a block names: its mempool as gossip fills it,
the proposals it accepted (kept in its store across a restart), and its peers, by hash
and, for a block committed before, by the block of that height from a peer's store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from consensus.compact import compute_tx_hash
from node.cometbft import bodies as bodies_module
from node.cometbft.bodies import BlockBodies, fetch_bodies, gather_bodies, index
from node.p2p import HostConfig, blocksync
from node.p2p.blocksync import SyncedBlock, serve_blocks
from node.p2p.txfetch import serve_txs
from node.storage import NodeStore
from node.storage.comet_block import CometBlockRecord
from tests.node.p2p.support import line

TXS = [b"body %d " % i * 40 for i in range(5)]
HASHES = [compute_tx_hash(tx) for tx in TXS]


def test_an_accepted_proposal_s_bodies_outlive_a_restart_until_its_block(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.sqlite3") as store:
        BlockBodies({}.get, store).accept(7, index(TXS[:2]))
    with NodeStore(tmp_path / "node.sqlite3") as store:
        restarted = BlockBodies({}.get, store)
        assert [restarted.get(h) for h in HASHES[:3]] == [*TXS[:2], None]
        for height in range(1, 8):
            store.save_block(height, b"block", b"", bytes(32))
        store.save_proposal_txs(9, b"\xc1")  # the node's own file, damaged: read as empty
        assert BlockBodies({}.get, store).accepted == {9: {}}


def test_a_committed_block_s_bodies_are_given_to_peers_for_a_few_heights_more() -> None:
    """The mempool lets them go with the commit; a validator the gossip reached late asks
    for them while the others have committed the proposal without it."""
    held = BlockBodies({}.get)
    held.accept(5, index(TXS[:3]))
    held.commit(5, index(TXS[:2]))
    assert [held.get(h) for h in HASHES[:3]] == [*TXS[:2], None] and held.accepted == {}
    for height in range(6, 5 + bodies_module.KEPT_HEIGHTS):
        held.commit(height, index(TXS[3:4]))
    assert held.get(HASHES[0]) == TXS[0]
    held.commit(5 + bodies_module.KEPT_HEIGHTS, {})
    assert held.get(HASHES[0]) is None and held.get(HASHES[3]) == TXS[3]


async def test_peers_give_a_committed_block_s_bodies_with_the_next_blocks_and_by_hash() -> None:
    fourth = CometBlockRecord(4, 1_000, bytes(32), bytes(20), (TXS[2], TXS[3]), (), (0, 1))
    fifth = CometBlockRecord(5, 2_000, bytes(32), bytes(20), (TXS[4],), (), (0,))
    stored = {r.height: SyncedBlock(r.height, r.encode(), b"") for r in (fourth, fifth)}
    async with line("a", "b") as (a, b):
        serve_txs(b, BlockBodies({HASHES[0]: TXS[0]}.get).get)
        serve_blocks(b, stored.get, lambda: 5)
        found = await fetch_bodies(a, 4, [HASHES[0], HASHES[2], HASHES[1]], True)
        # block 5 came with block 4, in the one answer; HASHES[1]: nobody's
        assert found == {4: [TXS[2], TXS[3], TXS[0]], 5: [TXS[4]]}
        assert await fetch_bodies(a, 4, HASHES[:3], False) == {4: [TXS[0]]}  # by hash only
        assert await fetch_bodies(a, 6, HASHES[3:4], True) == {6: []}  # no block b holds


async def test_a_proposer_slow_to_send_a_committed_block_is_not_waited_for_alone() -> None:
    """Its link stalled (a lost segment across regions): the next peer is asked too once
    STORED_HEDGE_S passed, and its blocks are taken, long before the stalled ask's timeout."""

    async def stall(peer: str, request: bytes) -> bytes:
        await trio.sleep(60)
        raise AssertionError("never answers")

    fourth = CometBlockRecord(4, 1_000, bytes(32), bytes(20), (TXS[2], TXS[3]), (), (0, 1))
    stored = {4: SyncedBlock(4, fourth.encode(), b"")}
    async with line("b", "a", "c") as (b, a, c):
        b.set_request_handler(blocksync.PROTOCOL, stall, blocksync.MAX_REQUEST_BYTES)
        serve_blocks(c, stored.get, lambda: 4)
        with trio.fail_after(HostConfig.request_timeout_s / 2):
            found = await fetch_bodies(a, 4, HASHES[2:4], True, proposer=b.peer_id)
        assert found == {4: [TXS[2], TXS[3]]}


async def test_gossip_is_waited_for_before_the_peers_are_asked(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pending: dict[bytes, bytes] = {}
    asked: list[Sequence[bytes]] = []

    async def fetch(
        height: int, wanted: Sequence[bytes], committed: bool, proposer: str | None = None
    ) -> dict[int, list[bytes]]:
        asked.append(wanted)
        return {}

    async def gossip() -> None:
        await trio.sleep(bodies_module.GOSSIP_WAIT_S / 2)
        pending[HASHES[0]] = TXS[0]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(gossip)
        await gather_bodies(BlockBodies(pending.get), 1, HASHES[:1], fetch, False)
    assert asked == [] and trio.current_time() < bodies_module.GOSSIP_WAIT_S


async def test_a_proposal_is_sought_for_a_while_a_committed_block_until_found(
    autojump_clock: trio.testing.MockClock,
) -> None:
    asked: list[tuple[float, bool]] = []

    async def fetch(
        height: int, wanted: Sequence[bytes], committed: bool, proposer: str | None = None
    ) -> dict[int, list[bytes]]:
        asked.append((trio.current_time(), committed))
        return {height: list(TXS[:2]), height + 1: TXS[2:3]} if len(asked) == 6 else {}

    held = BlockBodies({}.get)
    start = trio.current_time()
    await gather_bodies(held, 1, HASHES[:2], fetch, False)
    assert 1.9 < trio.current_time() - start < 2.1 and held.get(HASHES[0]) is None
    assert not any(committed for _, committed in asked)
    asked.clear()
    start = trio.current_time()
    await gather_bodies(held, 2, HASHES[:2], fetch, True)
    assert asked[0][0] == start  # no wait for gossip: the block is decided
    assert len(asked) == 6 and [held.get(h) for h in HASHES[:3]] == TXS[:3]
    held.commit(2, {})
    assert held.get(HASHES[0]) is None and held.get(HASHES[2]) == TXS[2]  # block 3's


async def test_a_proposal_s_bodies_slow_to_come_from_peers_are_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def fetch_after(delay_s: float) -> bodies_module.FetchBodies:
        async def fetch(
            height: int, wanted: Sequence[bytes], committed: bool, proposer: str | None = None
        ) -> dict[int, list[bytes]]:
            await trio.sleep(delay_s)
            return {height: list(TXS[:2])}

        return fetch

    caplog.set_level(logging.INFO, logger=bodies_module.__name__)
    slow = bodies_module.SLOW_PROPOSAL_FETCH_S
    await gather_bodies(BlockBodies({}.get), 3, HASHES[:2], fetch_after(slow / 2), False)
    await gather_bodies(BlockBodies({}.get), 4, HASHES[:1], fetch_after(slow / 2), True)
    await gather_bodies(BlockBodies({}.get), 5, HASHES[:1], fetch_after(slow * 2), True)
    assert caplog.messages == []  # fast enough, or a committed block (not on the vote path)
    await gather_bodies(BlockBodies({}.get), 6, HASHES[:2], fetch_after(slow), False, "p")
    assert caplog.messages == [
        f"proposal of height 6: 2 of its 2 bodies came from peers only {round(slow * 1000)} ms "
        "after the gossip's wait (1 asks, proposer p first)"
    ]
