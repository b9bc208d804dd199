"""The trio adapter around the engine: timers as tasks on trio's clock, the empty-block
wait, commits observed through `progress`, and block sync pausing and resuming consensus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from consensus.engine_config import ChainStart
from consensus.signer import Signer
from consensus.sim.memory import HashChainApp, MemoryBlockStore
from consensus.state_machine import TimeoutConfig
from consensus.sync import SyncRejected
from consensus.types import Block, CommitCertificate, Voter
from consensus.wal import MemoryWalStorage, Wal
from lightclient.crypto import PrivateKey
from node.engine.driver import Driver, DriverConfig
from tests.node.netsupport import ListMempool

CHAIN = "driver-test"
KEY = PrivateKey(b"\x07" * 32)
GENESIS = ChainStart(CHAIN, (Voter("v0", KEY.public_key, 1),), bytes(32), 0)


class Sent(list[bytes]):
    """The driver's transport: what it broadcasts, first sends and re-sends alike."""

    def broadcast(self, data: bytes) -> None:
        self.append(data)

    rebroadcast = broadcast


def make_driver(
    validator: bool, mempool: ListMempool | None = None, txs_noticed: bool = False
) -> tuple[Driver, list[bytes]]:
    sent = Sent()
    wal = Wal(MemoryWalStorage())
    timeouts = TimeoutConfig(commit_ms=20, empty_block_wait_ms=1000)
    driver = Driver(
        DriverConfig(CHAIN, timeouts, txs_noticed=txs_noticed),
        GENESIS,
        HashChainApp(),
        MemoryBlockStore(GENESIS.state_root),
        ListMempool() if mempool is None else mempool,
        sent,
        signer=Signer(KEY, CHAIN, wal) if validator else None,
        wal=wal,
        clock_ms=lambda: int(trio.current_time() * 1000),
    )
    return driver, sent


async def wait_for_height(driver: Driver, height: int) -> None:
    while driver.store.get_height() < height:
        await driver.progress.wait()


@pytest.mark.parametrize("txs_noticed", [False, True], ids=["polled", "noticed"])
async def test_idle_proposer_waits_for_a_tx_then_proposes_at_once(
    autojump_clock: trio.testing.MockClock, txs_noticed: bool
) -> None:
    mempool = ListMempool()
    driver, published = make_driver(True, mempool, txs_noticed)
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        await wait_for_height(driver, 1)
        first = trio.current_time()
        assert first >= 1.0  # the empty-block wait, not a spin
        await trio.sleep(0.5)
        mempool.add(b"a tx")
        if txs_noticed:
            driver.notice_txs()
        await wait_for_height(driver, 2)
        assert trio.current_time() - first < 0.6  # proposed within a poll of the arrival
        nursery.cancel_scope.cancel()
    block = driver.store.get_block(2)
    assert block is not None and block[0].txs == (b"a tx",)
    assert published and driver.state.height >= 2


def fetch_from(
    source: MemoryBlockStore, skip: int = 0
) -> Callable[[int, Callable[[Block, CommitCertificate], None]], Awaitable[None]]:
    async def fetch(next_height: int, apply: Callable[[Block, CommitCertificate], None]) -> None:
        for height in range(next_height + skip, source.get_height() + 1):
            found = source.get_block(height)
            assert found is not None
            apply(*found)

    return fetch


async def test_full_node_syncs_blocks_then_follows_from_the_tip(
    autojump_clock: trio.testing.MockClock,
) -> None:
    validator, _ = make_driver(True, ListMempool())
    follower, _ = make_driver(False)
    async with trio.open_nursery() as nursery:
        await nursery.start(validator.run)
        await wait_for_height(validator, 3)
        nursery.cancel_scope.cancel()
    assert isinstance(validator.store, MemoryBlockStore)
    async with trio.open_nursery() as nursery:
        await nursery.start(follower.run)
        assert follower.state.height == 1
        assert await follower.sync_blocks(fetch_from(validator.store)) == 3
        assert not follower.syncing and follower.state.height == 4
        nursery.cancel_scope.cancel()
    assert isinstance(follower.store, MemoryBlockStore)
    assert follower.store.get_hashes() == validator.store.get_hashes()[:3]


async def test_sync_refuses_a_block_that_does_not_extend_the_tip(
    autojump_clock: trio.testing.MockClock,
) -> None:
    validator, _ = make_driver(True, ListMempool())
    async with trio.open_nursery() as nursery:
        await nursery.start(validator.run)
        await wait_for_height(validator, 2)
        nursery.cancel_scope.cancel()
    assert isinstance(validator.store, MemoryBlockStore)
    follower, _ = make_driver(False)
    with pytest.raises(SyncRejected, match="expected height 1"):
        await follower.sync_blocks(fetch_from(validator.store, skip=1))
    assert follower.store.get_height() == 0 and not follower.syncing


async def test_a_lone_validator_spends_its_heights_proposing_and_committing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """It votes within the engine call that proposes: what lasts is the wait for a
    transaction to propose (`propose`, the empty-block wait) and the commit (applying,
    storing, the pause between heights). The four steps of a real network are checked
    live (tests/node/test_metrics_live.py)."""
    mempool = ListMempool()
    mempool.add(b"a tx")
    driver, _ = make_driver(True, mempool)
    steps: list[str] = []
    driver.on_step = lambda step, seconds: steps.append(step) if seconds >= 0 else None
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        await wait_for_height(driver, 3)
        nursery.cancel_scope.cancel()
    assert steps[:4] == ["commit", "propose", "commit", "propose"]
    assert driver.work.seconds["consensus"] > 0
