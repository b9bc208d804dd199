"""A node on our engine: `run_node(config)` starts what every node starts
(`node/startup/steps.py`) and, between its steps, our engine's part: the consensus WAL, the
mempool recorded on disk, the consensus driver and the loop that runs it over the p2p
host (`node/engine/consensus_loop.py`). Runs until cancelled, one nursery owning every task.
"""

from __future__ import annotations

import functools
import logging

import trio

from clearing.validator_set import get_validator_name, has_power
from consensus.engine_config import ChainStart
from consensus.signer import Signer
from consensus.state_machine import TimeoutConfig
from consensus.transport import Transport
from consensus.types import Block, CommitCertificate, Voter
from consensus.wal import FileWalStorage, Wal
from lightclient.anchor import OUR_ENGINE, get_consensus_chain_id
from lightclient.crypto import PrivateKey
from node.api.counters import LATE_PROPOSALS, PROPOSALS_DATED_BY_OTHERS, CountersCollector
from node.api.node_interface import LocalNode
from node.committed import CommittedBlock, from_block
from node.config import NodeConfig, get_timeouts
from node.engine.consensus_loop import run_consensus
from node.engine.driver import Driver, DriverConfig
from node.engine.wal_compaction import compact_wal
from node.liveness import CommitWatch, get_stall_limit_ms
from node.p2p import P2PNode
from node.p2p.blocksync import get_stored_block
from node.p2p.topics import CONSENSUS, TX, get_topics, open_publisher
from node.services import NodeContext
from node.startup import NodeParts, open_host, open_node, start_node
from node.startup.tx_gossip import add_to_mempool, admit_tx, build_tx_pool, regossip
from node.statesync.backfill import OUR_BLOCKS, backfill_below_snapshot
from node.statesync.fetch import sync_state
from node.statesync.serve import SnapshotServer, serve_snapshots
from node.storage import NodeStore
from node.txpool import TxPool

log = logging.getLogger(__name__)


async def run_node(
    config: NodeConfig, *, task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED
) -> None:
    """Runs the node described by `config` on our engine until cancelled."""
    timeouts = get_timeouts(config, OUR_ENGINE)  # a bad [consensus] table opens nothing
    synced = await sync_state(config) if config.state_sync.enabled else None
    with open_node(config, None if synced is None else synced.state) as node:
        wal = open_wal(config, node.store)
        signer = get_validator_signer(node, wal)
        pool = build_tx_pool(node)
        restored = pool.restore()
        async with open_host(node, get_topics()) as (p2p, nursery):
            await nursery.start(pool.run)
            publisher = open_publisher(p2p, CONSENSUS, nursery)
            driver = build_driver(node, pool, publisher, signer, wal, timeouts)
            log.info(
                "node %s up: peer %s at %s, height %d, %s",
                config.moniker, p2p.peer_id, p2p.listen_addrs(), node.blocks.get_height(),
                "validator" if signer else "full node",
            )  # fmt: skip
            commits = CommitWatch(
                get_stall_limit_ms(timeouts), node.blocks.get_height(), lambda: driver.syncing
            )
            publish_tx = functools.partial(p2p.publish, TX)
            api_node = LocalNode(
                config.chain_id, config.moniker, pool.mempool, lambda: node.app.state,
                node.store, publish_tx, metrics=node.metrics, pool=pool, commits=commits,
            )  # fmt: skip
            admit = functools.partial(admit_tx, pool, publish_tx)
            ctx = await start_node(nursery, node, p2p, api_node, commits, admit)
            ctx.on_commit(functools.partial(compact_at_snapshot, wal, config))
            serve_snapshots(
                p2p, SnapshotServer(node.store, lambda: node.app.state, node.served_snapshots)
            )
            driver.on_commit = functools.partial(notify_commit, ctx)
            await nursery.start(
                functools.partial(run_consensus, on_peer_height=commits.observe_peer_height),
                p2p,
                driver,
                add_to_mempool(pool),
                functools.partial(get_stored_block, node.store),
            )
            if restored:
                nursery.start_soon(regossip, p2p, pool, restored)
            if config.state_sync.backfill:
                nursery.start_soon(backfill_below_snapshot, p2p, node, OUR_BLOCKS)
            task_status.started(p2p)


def open_wal(config: NodeConfig, store: NodeStore) -> Wal:
    """The consensus WAL, compacted below the height after the store's tip."""
    wal = Wal(FileWalStorage(config.storage.wal_path))
    compact_wal(wal, store.latest_height() + 1)
    return wal


def get_validator_signer(node: NodeParts, wal: Wal) -> Signer | None:
    """A signer when this node has a validator key; None makes a full node. Consensus
    signs only at heights whose validator set holds the key: one not in the set in force
    (a validator governance will add) follows until its set does."""
    if node.validator_key is None:
        return None
    key, state = PrivateKey(node.validator_key.secret), node.app.state
    record = state.validators.get(key.public_key)
    if not has_power(record):
        log.info(
            "validator key %s is %s at height %d: it votes once the set holds it",
            key.public_key.hex()[:16],
            "not in the validator set" if record is None else "jailed",
            state.height,
        )
    return Signer(key, get_consensus_chain_id(state.chain_id, node.genesis_hash), wal)


def build_driver(
    node: NodeParts,
    pool: TxPool,
    transport: Transport,
    signer: Signer | None,
    wal: Wal,
    timeouts: TimeoutConfig,
) -> Driver:
    """The consensus driver from the genesis's validators and root, over the node's app,
    blocks and mempool (which tells it each admission), broadcasting through `transport`."""
    chain = get_consensus_chain_id(node.genesis.chain_id, node.genesis_hash)
    voters = tuple(Voter(v.name, v.pubkey, v.power) for v in node.genesis.validators)
    driver = Driver(
        DriverConfig(chain, timeouts, txs_noticed=True),
        ChainStart(chain, voters, node.blocks.genesis_root, node.genesis.genesis_time_ms),
        node.app,
        node.blocks,
        pool,
        transport,
        signer=signer,
        wal=wal,
        work=node.work,
        on_step=None if node.metrics is None else node.metrics.observe_step,
        on_proposal_time=None
        if node.metrics is None
        else functools.partial(observe_proposal_time, node),
    )
    pool.on_added = driver.notice_txs
    if node.metrics is not None:
        stats = driver.engine.stats
        node.metrics.registry.register(
            CountersCollector(
                PROPOSALS_DATED_BY_OTHERS, lambda: [((), stats.proposals_dated_by_others)]
            )
        )
        node.metrics.registry.register(
            CountersCollector(LATE_PROPOSALS, lambda: [((), stats.late_proposals)])
        )
    return driver


def observe_proposal_time(node: NodeParts, proposer: bytes, ahead_ms: int, timely: bool) -> None:
    """The driver's `on_proposal_time`, by the proposer's name in the set in force."""
    assert node.metrics is not None
    name = get_validator_name(node.app.state, proposer) or f"0x{proposer.hex()[:16]}"
    node.metrics.observe_proposal_time(name, ahead_ms, timely)


def notify_commit(
    ctx: NodeContext, block: Block, certificate: CommitCertificate, root: bytes
) -> None:
    """The driver's `on_commit`: the block the app applied and the store saved."""
    ctx.notify_commit(from_block(block, certificate), root)


def compact_at_snapshot(wal: Wal, config: NodeConfig, block: CommittedBlock, root: bytes) -> None:
    """Compacts the WAL at every snapshot height."""
    if block.height % config.storage.snapshot_interval == 0:
        compact_wal(wal, block.height + 1)
