"""Four validators in one process over real libp2p hosts on loopback commit clearing blocks."""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio

from clearing.genesis import Genesis
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key, derive_seed
from consensus.engine_config import ChainStart
from consensus.messages import Message
from consensus.signer import Signer
from consensus.sim.memory import MemoryBlockStore
from consensus.state_machine import TimeoutConfig
from consensus.types import ValidatorSet, Vote, Voter, VoteType
from consensus.wal import MemoryWalStorage, Wal
from lightclient.crypto import PrivateKey
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.engine.consensus_loop import run_consensus
from node.engine.driver import Driver, DriverConfig
from node.p2p import HostConfig, P2PNode
from node.p2p.blocksync import SyncedBlock
from node.p2p.topics import TX, get_topics, open_publisher
from tests.clearing.support import USDC, new_sandbox
from tests.node.netsupport import ListMempool, example_genesis
from tests.node.p2p.support import run_host_until

pytestmark = pytest.mark.slow  # four validators in one process

CHAIN = "clearnode-test"
FAST = TimeoutConfig(
    propose_ms=1000, prevote_ms=300, precommit_ms=300, commit_ms=50, empty_block_wait_ms=300
)
"""An idle proposer waits for a transaction 300 ms, below the propose timeout as the driver
asks: at the node's default (1 s) every empty height's first round timed out."""
REGOSSIP_S = 0.5
"""A stuck height's re-broadcast, half the node's default: a node a height behind peers
that moved on waits two of them before it block-syncs (`BehindWatch`)."""


@dataclass
class Member:
    p2p: P2PNode
    driver: Driver
    app: ClearingApp
    store: MemoryBlockStore
    mempool: ListMempool

    def submit(self, tx: bytes, nursery: trio.Nursery) -> None:
        self.mempool.add(tx)
        nursery.start_soon(self.p2p.publish, TX, tx)


@asynccontextmanager
async def network(
    count: int = 4, validators: int = 4, genesis: Genesis | None = None
) -> AsyncIterator[list[Member]]:
    genesis = example_genesis() if genesis is None else genesis
    vset = ValidatorSet.from_validators(
        [Voter(v.name, v.pubkey, v.power) for v in genesis.validators]
    )
    stop = trio.Event()  # the hosts close together: each close waits 0.2 s in py-libp2p
    async with trio.open_nursery() as hosts, trio.open_nursery() as nursery:
        members: list[Member] = []
        for index in range(count):
            host_config = HostConfig(derive_seed(f"node-{index}"))
            p2p = await hosts.start(run_host_until, host_config, stop, get_topics())
            for other in members:
                await p2p.connect(other.p2p.listen_addrs()[0])
            app = ClearingApp(genesis)
            store = MemoryBlockStore(app.last_root)
            mempool = ListMempool()
            key = PrivateKey(derive_seed(f"validator-{index}")) if index < validators else None
            wal = Wal(MemoryWalStorage())
            driver = Driver(
                DriverConfig(CHAIN, FAST, regossip_s=REGOSSIP_S),
                ChainStart(CHAIN, vset.validators, app.last_root, genesis.genesis_time_ms),
                app,
                store,
                mempool,
                open_publisher(p2p, "consensus", nursery),
                signer=None if key is None else Signer(key, CHAIN, wal),
                wal=wal,
            )
            members.append(Member(p2p, driver, app, store, mempool))
        for member in members:
            await member.p2p.wait_for_mesh("consensus", min(count - 1, 6))
        for member in members:
            get_synced = functools.partial(encode_synced_block, member.store)
            await nursery.start(
                run_consensus, member.p2p, member.driver, member.mempool.add, get_synced
            )
        try:
            yield members
        finally:
            nursery.cancel_scope.cancel()
            stop.set()


def encode_synced_block(store: MemoryBlockStore, height: int) -> SyncedBlock | None:
    """A stored block in its sync form (the nodes here keep blocks in memory)."""
    found = store.get_block(height)
    if found is None:
        return None
    block, certificate = found
    return SyncedBlock(height, block.encode(), certificate.encode())


def describe(members: list[Member]) -> str:
    """Where each node stood: what a timeout needs to say to be diagnosed."""
    lines = []
    for index, m in enumerate(members):
        s = m.driver.state
        mesh = m.p2p.get_mesh_peers("consensus")
        counters = sorted(
            (f"{topic}/{outcome}", n) for (topic, outcome), n in m.p2p.counters.items()
        )
        lines.append(
            f"node {index}: height {s.height} round {s.round} {s.step.name} decided "
            f"{s.decided} syncing {m.driver.syncing} stored {m.store.get_height()}; peers "
            f"{len(m.p2p.connected_peers())}, consensus mesh {len(mesh)}; {dict(counters)}"
        )
    return "\n".join(lines)


@asynccontextmanager
async def explained_after(members: list[Member], seconds: float) -> AsyncIterator[None]:
    """trio.fail_after whose error says where each node stood."""
    try:
        with trio.fail_after(seconds):
            yield
    except trio.TooSlowError as exc:
        raise AssertionError(f"no progress within {seconds} s:\n{describe(members)}") from exc


async def wait_for_height(members: list[Member], height: int) -> None:
    async with explained_after(members, 30):
        for member in members:
            while member.store.get_height() < height:
                await member.driver.progress.wait()


def setup_txs() -> tuple[list[bytes], list[bytes]]:
    box = new_sandbox()
    box.clock_ms = wall_clock_ms  # the nodes' blocks take their time from it
    people = [derive_member_key(f"m{i}") for i in range(4)]
    setup = [encode_tx(box.credit(m.address, USDC, 10**12)) for m in people]
    setup += [encode_tx(box.authorise(m, "alpha")) for m in people]
    venue = derive_ed25519_key("venue-alpha")
    trade_ids = itertools.count(1)
    batches = []
    for batch_id in range(1, 4):
        trades = tuple(
            Trade(next(trade_ids), "BTC-PERP", a.address, 0, b.address, 0, 60_000_000, 1)
            for a, b in itertools.permutations(people, 2)
        )
        batches.append(
            encode_tx(
                sign_trade_batch(venue, box.chain_id, "alpha", batch_id, trades, *box.get_times())
            )
        )
    return setup, batches


def assert_same_roots(members: list[Member], up_to: int) -> None:
    for height in range(1, up_to + 1):
        roots = {m.store.get_state_root(height) for m in members}
        assert len(roots) == 1, f"height {height}: {len(roots)} different state roots"


async def test_four_validators_commit_trades_and_agree_on_roots() -> None:
    setup, batches = setup_txs()
    async with network() as members:
        async with trio.open_nursery() as submit:
            for tx in setup:
                members[0].submit(tx, submit)
        await wait_for_height(members, 2)
        async with trio.open_nursery() as submit:
            for i, tx in enumerate(batches):
                members[i % 4].submit(tx, submit)
        async with explained_after(members, 30):
            while sum(len(b[0].txs) for b in members[0].store.blocks) < len(setup) + len(batches):
                await members[0].driver.progress.wait()
        tip = min(m.store.get_height() for m in members)
        await wait_for_height(members, tip + 1)
        assert_same_roots(members, tip + 1)
        windows = members[0].app.state.trade_windows.values()  # fewer ids than a window
        assert sum(int.from_bytes(w.bits, "little").bit_count() for w in windows) == 3 * 12


async def test_validators_a_height_behind_sync_it_though_their_peers_moved_on() -> None:
    """Nodes 2 and 3 never hear a precommit of height 3, so they cannot commit it; 0 and 1
    do (all four precommitted) and wait at height 4 for a third vote. Nobody sends height
    3's votes again and height 4 is not far enough ahead for the engine's `on_behind`:
    only the node's watch of its peers' heights (`BehindWatch`) block-syncs 2 and 3."""
    async with network() as members:
        for lagging in members[2:]:
            deliver = lagging.driver.deliver

            def drop_precommits(message: Message, sender: str, deliver=deliver) -> None:  # type: ignore[no-untyped-def]
                if not (
                    isinstance(message, Vote)
                    and message.vote_type is VoteType.PRECOMMIT
                    and message.height == 3
                ):
                    deliver(message, sender)

            lagging.driver.deliver = drop_precommits  # type: ignore[method-assign,assignment]
        await wait_for_height(members, 6)
        assert_same_roots(members, 6)
