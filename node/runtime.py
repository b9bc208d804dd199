"""The node process: one nursery owning p2p, the consensus driver, mempool gossip and sync.

`serve_node` wires a running p2p host to a driver (used in-process by tests
and by `run_node`); `run_node(config)` builds everything from a node home and
runs until cancelled.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.block import BlockResult
from clearing.errors import ClearingError
from clearing.events import Event
from clearing.root import compute_state_root
from clearing.snapshot import decode_snapshot, encode_snapshot
from clearing.state import ClearingState
from clearing.validator_set import has_power
from consensus.engine import ChainStart
from consensus.signer import Signer
from consensus.sync import BehindWatch, SyncRejected
from consensus.types import Block, CommitCertificate, Voter
from consensus.wal import FileWalStorage, Wal
from lightclient.anchor import get_consensus_chain_id
from lightclient.codec import ConsensusDecodeError
from lightclient.crypto import PrivateKey
from node.allowed_peers import (
    AllowedPeers,
    check_persistent_peers,
    get_allowed_peers,
    get_peer_validators,
)
from node.api.counters import add_status_section, expose_work
from node.api.serve import serve_node_api
from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.blocksync import SyncApplyError, SyncedBlock, serve_blocks, sync_to_tip
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.committed import CommittedBlock, decode_stored_block, from_block
from node.config import NodeConfig
from node.driver import GOSSIP_PEER, Driver, DriverConfig
from node.genesis_file import load_genesis
from node.history.indexer import catch_up_history, get_last_block_history
from node.keys import NODE_KEY, VALIDATOR_KEY, load_key
from node.liveness import CommitWatch, get_stall_limit_ms
from node.mempool import Mempool, MempoolError, compute_tx_hash
from node.p2p import HostConfig, P2PNode, open_p2p
from node.p2p.topics import CONSENSUS, TX, feed_driver, get_topics, open_publisher
from node.ports import get_bind_problem, get_port_taken_error
from node.service_list import build_services
from node.services import NodeContext, NodeContextInputs, Service
from node.storage import NodeStore, Rebuilt, StoredBlock, rebuild_state
from node.txcheck import make_clearing_check
from node.txfetch import fetch_txs, serve_txs
from node.txpool import TxPool
from node.wal_compaction import compact_wal
from node.worktime import TX_CHECK, TX_RECHECK, WorkTime

log = logging.getLogger(__name__)

BEHIND_PATIENCE_REGOSSIPS = 2
"""Re-gossip intervals a node waits a height behind its peers before it block-syncs that
height: peers re-send a height's messages each interval only while they are still at it,
so once they moved on, no vote this node lacks will come again."""


async def catch_up(p2p: P2PNode, driver: Driver) -> int:
    """Block-syncs from connected peers until none has more; returns blocks applied."""

    async def fetch(next_height: int, apply: Callable[[Block, CommitCertificate], None]) -> None:
        async def apply_synced(synced: SyncedBlock) -> None:
            if synced.height <= driver.store.get_height():
                # Committed here meanwhile (consensus moved while the answer was on its
                # way): a race of two honest paths, not a bad answer from the peer.
                return
            try:
                apply(Block.decode(synced.block), CommitCertificate.decode(synced.certificate))
            except (ConsensusDecodeError, SyncRejected) as exc:
                raise SyncApplyError(str(exc)) from exc
            await trio.sleep(0)

        await sync_to_tip(p2p, p2p.connected_peers(), next_height, apply_synced)

    return await driver.sync_blocks(fetch)


async def serve_node(
    p2p: P2PNode,
    driver: Driver,
    add_tx: Callable[[bytes], None],
    get_synced: Callable[[int], SyncedBlock | None],
    *,
    on_peer_height: Callable[[int], None] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs consensus over `p2p` until cancelled: gossip in, sync served and used when behind:
    far behind (the engine's `on_behind`), or a height behind peers that moved on
    (`BehindWatch`, which `watch_peers` asks)."""
    behind = trio.Event()
    watch = BehindWatch(BEHIND_PATIENCE_REGOSSIPS * round(driver.config.regossip_s * 1000))

    def on_behind(height: int) -> None:
        behind.set()

    def on_height(height: int) -> None:
        watch.observe(GOSSIP_PEER, height)
        if on_peer_height is not None:
            on_peer_height(height)

    driver.on_behind = on_behind
    serve_blocks(p2p, get_synced, driver.store.get_height)
    serve_txs(p2p, driver.engine.get_tx)

    async def fetch(peer: str, tx_ids: tuple[bytes, ...]) -> list[bytes]:
        return await fetch_txs(p2p, [peer, *p2p.connected_peers()], tx_ids)

    driver.fetch_txs = fetch

    async def watch_peers() -> None:
        """Looks twice per patience whether a peer committed a height this node lacks."""
        committed = driver.store.get_height()
        while True:
            await trio.sleep(watch.patience_ms / 2000)
            height = driver.store.get_height()
            if height != committed:
                committed = height
                watch.record_commit()
            ahead = watch.get_peer_to_sync(height, wall_clock_ms())
            if ahead is not None and not driver.syncing:
                behind.set()

    async def receive_txs() -> None:
        async for delivery in p2p.messages(TX):
            assert isinstance(delivery.value, bytes)
            add_tx(delivery.value)
            driver.offer_tx(delivery.value)

    async def keep_up() -> None:
        nonlocal behind
        while True:
            await behind.wait()
            behind = trio.Event()
            await catch_up(p2p, driver)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed_driver, p2p, driver, on_height)
        nursery.start_soon(receive_txs)
        log.info("catching up from height %d", driver.store.get_height())
        await catch_up(p2p, driver)
        log.info("starting consensus at height %d", driver.store.get_height() + 1)
        await nursery.start(driver.run)
        nursery.start_soon(keep_up)
        nursery.start_soon(watch_peers)
        task_status.started()


def log_jailings(height: int, result: BlockResult) -> list[Event]:
    """A warning per key the block jailed (validators are public: no member data)."""
    jailed = [e for e in result.events if e.kind == "validator_jailed"]
    for event in jailed:
        key = event.get("validator")
        log.warning(
            "validator %s (key %s) jailed at height %d for equivocating at height %d",
            event.get("name"),
            key.hex() if isinstance(key, bytes) else key,
            height,
            event.get("evidence_height"),
        )
    return jailed


def get_validator_signer(config: NodeConfig, state: ClearingState, wal: Wal) -> Signer | None:
    """A signer when this node has a validator key; None makes a full node. Consensus
    signs only at heights whose validator set holds the key: one not in the set in force
    (a validator governance will add) follows until its set does."""
    if not config.validator_key_file.exists():
        return None
    key = PrivateKey(load_key(config.validator_key_file, VALIDATOR_KEY).secret)
    record = state.validators.get(key.public_key)
    if not has_power(record):
        log.info(
            "validator key %s is %s at height %d: it votes once the set holds it",
            key.public_key.hex()[:16],
            "not in the validator set" if record is None else "jailed",
            state.height,
        )
    return Signer(key, get_consensus_chain_id(state.chain_id), wal)


SNAPSHOT_REJECTS = (ClearingError, ValueError, TypeError, LookupError)
"""What decoding an untrusted (corrupt) snapshot may raise; such a snapshot is skipped."""

RECENT_COMMITTED_BLOCKS = 200
"""Blocks whose transactions a restarted node's mempool refuses at once: copies of them
may still be in flight (gossip, retries); the mempool remembers what it commits after."""


def restore_state(app: ClearingApp, store: NodeStore) -> Rebuilt[ClearingState]:
    """Puts the app at the store's tip: the newest snapshot whose root is its block's
    root (older ones, or genesis, if not), then the later blocks, each root checked."""

    def apply(state: ClearingState, stored: StoredBlock) -> tuple[ClearingState, bytes]:
        app.state = state
        block = decode_stored_block(app.genesis.engine, stored)
        return state, app.apply_block(block.get_context(app.genesis.chain_id), block.txs).state_root

    rebuilt = rebuild_state(
        store,
        lambda: app.state,
        functools.partial(decode_snapshot, app.genesis),
        apply,
        compute_state_root,
        SNAPSHOT_REJECTS,
    )
    app.state = rebuilt.state
    app.last_root = compute_state_root(rebuilt.state)
    log.info(
        "state at height %d: snapshot of height %d + %d blocks",
        rebuilt.height,
        rebuilt.snapshot_height,
        rebuilt.height - rebuilt.snapshot_height,
    )
    return rebuilt


def restore_node(config: NodeConfig, app: ClearingApp, store: NodeStore) -> frozenset[str] | None:
    """The app at the store's tip and the members' history caught up with it; returns the
    peers this node's p2p host allows (None: any), as its committed state lists them."""
    restore_state(app, store)
    genesis = app.genesis
    allowed_peers = get_allowed_peers(config, genesis, get_peer_validators(config, app.state))
    if allowed_peers is not None:
        check_persistent_peers(config, genesis, allowed_peers)
    catch_up_history(store, genesis)
    return allowed_peers


def iter_recent_txs(store: NodeStore, blocks: int) -> Iterator[bytes]:
    """The transactions of the latest `blocks` stored blocks."""
    for stored in store.iter_blocks(max(0, store.latest_height() - blocks)):
        yield from Block.decode(stored.block).txs


def add_to_mempool(pool: TxPool) -> Callable[[bytes], None]:
    def add(tx: bytes) -> None:
        try:
            pool.add_nowait(tx)
        except MempoolError as exc:
            log.debug("gossiped tx refused: %s", exc)

    return add


async def regossip(p2p: P2PNode, pool: TxPool, txs: list[bytes]) -> None:
    """Gossips the transactions restored at start-up once a peer hears the topic: this node
    may have died before its gossip of them left."""
    await p2p.wait_for_mesh(TX, 1)
    for tx in txs:
        if compute_tx_hash(tx) in pool.mempool:
            await p2p.publish(TX, tx)


def get_p2p_config(config: NodeConfig, allowed_peers: frozenset[str] | None) -> HostConfig:
    return HostConfig(
        key_seed=load_key(config.node_key_file, NODE_KEY).secret,
        listen_host=config.p2p.listen_host,
        listen_port=config.p2p.listen_port,
        persistent_peers=config.p2p.persistent_peers,
        allowed_peers=allowed_peers,
    )


def build_block_store(
    config: NodeConfig, store: NodeStore, app: ClearingApp, genesis_root: bytes
) -> SqliteBlockStore:
    """The committed blocks, each saved with its members' history and, on schedule, the
    state snapshot after it."""
    return SqliteBlockStore(
        store,
        genesis_root,
        SnapshotSchedule(
            config.storage.snapshot_interval,
            config.storage.snapshots_kept,
            lambda: encode_snapshot(app.state),
        ),
        functools.partial(get_last_block_history, app),
        app.work,
    )


def announce_commit(
    ctx: NodeContext, allowed: AllowedPeers, commits: CommitWatch, block: CommittedBlock,
    root: bytes,
) -> None:  # fmt: skip
    """What the node's parts learn of a block the app just applied and the store saved,
    whichever engine committed it: the API's streams and counters, the peers allowed in,
    the services, the liveness watch."""
    api, result = ctx.api, ctx.app.last_result
    codes = [] if result is None else [r.code for r in result.tx_results]
    jailed = [] if result is None else log_jailings(block.height, result)
    if api.metrics is not None and jailed:
        api.metrics.observe_jailings(len(jailed))
    api.publish_block(block.height, block.block_hash, root, block.time_ms, codes)
    if result is not None:
        api.record_block(result)
    allowed.on_commit(ctx.state)
    ctx.notify_commit(block, root)
    commits.record_commit(block.height)
    if api.metrics is not None:
        api.metrics.observe_commit(block.height, codes, time.monotonic())


async def start_services(
    nursery: trio.Nursery, services: list[Service], ctx: NodeContext, commits: CommitWatch
) -> None:
    """Starts each service in `nursery`, in order, before consensus runs."""
    if ctx.api.metrics is not None:
        p2p = ctx.p2p
        ctx.api.metrics.watch_peers(lambda: len(p2p.connected_peers()))
    expose_work(ctx.api, ctx.app.work, ctx.p2p)
    for service in services:
        log.info("starting service %s", service.name)
        await nursery.start(service.serve, ctx)
    add_status_section(ctx.api, "health", commits.get_health)


def check_listening(config: NodeConfig, p2p: P2PNode) -> None:
    """The host listens: py-libp2p only logs a failed bind and runs unreachable. Another
    node started at the same instant on the same port is the usual cause (both found it
    free); it ends here as the one-line error `clearnode start` gives for a taken port."""
    if p2p.listen_addrs():
        return
    problem = get_bind_problem(config.p2p.listen_host, config.p2p.listen_port)
    raise get_port_taken_error(config, "p2p.listen_port", problem or "its bind failed")


async def run_node(
    config: NodeConfig,
    *,
    driver_config: DriverConfig | None = None,
    task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs the node described by `config` until cancelled (one nursery owns every task)."""
    genesis = load_genesis(config)
    chain = get_consensus_chain_id(genesis.chain_id)
    work = WorkTime()
    app = ClearingApp(genesis, work)
    genesis_root = app.last_root
    store = NodeStore(config.storage.path)
    try:
        allowed_peers = restore_node(config, app, store)
        wal = Wal(FileWalStorage(config.storage.wal_path))
        compact_wal(wal, store.latest_height() + 1)
        signer = get_validator_signer(config, app.state, wal)
        check = make_clearing_check(lambda: app.state, wall_clock_ms)
        mempool = Mempool(
            work.timed(TX_CHECK, check),
            recheck=work.timed(TX_RECHECK, check),
            max_txs=config.mempool.max_txs,
            max_bytes=config.mempool.max_bytes,
            max_tx_bytes=config.mempool.max_tx_bytes,
        )
        mempool.remember_committed(iter_recent_txs(store, RECENT_COMMITTED_BLOCKS))
        pool = TxPool(mempool, store)
        restored = pool.restore()
        validators = tuple(Voter(v.name, v.pubkey, v.power) for v in genesis.validators)
        p2p_config = get_p2p_config(config, allowed_peers)
        blocks = build_block_store(config, store, app, genesis_root)
        services = build_services(
            config, NodeContextInputs(genesis, signer is not None, lambda: app.state)
        )
        topics = [*get_topics(), *(topic for service in services for topic in service.topics)]
        async with open_p2p(p2p_config, topics, work) as p2p, trio.open_nursery() as nursery:
            check_listening(config, p2p)
            await nursery.start(pool.run)
            driver_config = driver_config or DriverConfig(chain)
            driver = Driver(
                driver_config,
                ChainStart(chain, validators, genesis_root, genesis.genesis_time_ms),
                app,
                blocks,
                pool,
                open_publisher(p2p, CONSENSUS, nursery),
                signer=signer,
                wal=wal,
                work=work,
            )
            log.info(
                "node %s up: peer %s at %s, height %d, %s",
                config.moniker,
                p2p.peer_id,
                p2p.listen_addrs(),
                blocks.get_height(),
                "validator" if signer else "full node",
            )
            publish_tx = functools.partial(p2p.publish, TX)
            commits = CommitWatch(
                get_stall_limit_ms(driver_config), blocks.get_height(), lambda: driver.syncing
            )
            api = await nursery.start(
                functools.partial(serve_node_api, pool=pool, commits=commits),
                config,
                lambda: app.state,
                mempool,
                store,
                publish_tx,
            )
            allowed = AllowedPeers(config, genesis, p2p, app.state)

            async def admit_tx(raw: bytes) -> None:
                await pool.add(raw)
                await publish_tx(raw)

            ctx = NodeContext(
                config,
                genesis,
                app,
                store,
                p2p,
                api,
                None if signer is None else Ed25519PrivateKey.from_private_bytes(signer.key.seed),
                admit_tx,
            )

            def on_commit(block: Block, certificate: CommitCertificate, root: bytes) -> None:
                announce_commit(ctx, allowed, commits, from_block(block, certificate), root)
                if block.height % config.storage.snapshot_interval == 0:
                    compact_wal(wal, block.height + 1)

            driver.on_commit = on_commit
            if api.metrics is not None:
                driver.on_step = api.metrics.observe_step
            blocks.on_history = api.publish_history
            await start_services(nursery, services, ctx, commits)
            await nursery.start(
                functools.partial(serve_node, on_peer_height=commits.observe_peer_height),
                p2p,
                driver,
                add_to_mempool(pool),
                blocks.get_synced,
            )
            if restored:
                nursery.start_soon(regossip, p2p, pool, restored)
            task_status.started(p2p)
    finally:
        store.close()
