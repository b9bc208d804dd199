"""A node whose network's engine is CometBFT: one nursery owning the ABCI server, the
`cometbft` process, the HTTP API, the p2p host of the services and the services.

CometBFT orders the blocks and gossips proposals and votes; the clearing app, the
mempool and its `tx` topic (node/startup/tx_gossip.py), the store, the API and the
services are the node's own, as on our engine. The services keep their libp2p topics
(oracle observations, bridge attestations, report shares): they gossip among
validators what enters blocks as attested transactions, which CometBFT's vote
extensions would carry only at a cost to every block's latency (docs/architecture.md).
The CometBFT home is written from the node's keys, genesis and `[cometbft]` config at
every start; its data directory (blocks, state, signing state) is CometBFT's, and a
restart replays into the app what it lacks (ABCI's handshake), so the two stores always
agree. What it shares with a node on our engine is in node/startup/.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import trio

from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS
from consensus.state_machine import TimeoutConfig
from consensus.types import compute_max_proposal_bytes
from lightclient.anchor import COMETBFT, get_consensus_chain_id
from node.api.node_interface import LocalNode
from node.block_store import SqliteBlockStore
from node.cometbft.abci import ClearingAbci, DecidedBlock
from node.cometbft.bodies import fetch_bodies
from node.cometbft.catchup import EngineRestart, restart_when_behind
from node.cometbft.committed_block import COMET_BLOCKS
from node.cometbft.home import (
    ABCI_SOCKET,
    LIGHT_SOCKETS,
    RPC_SOCKET,
    Listeners,
    TrustedBlock,
    check_home_genesis,
    write_home,
)
from node.cometbft.light_rpc import (
    LightRpcError,
    get_trusted_block,
    serve_light_rpc,
    serve_light_sockets,
)
from node.cometbft.process import (
    CometBFTExited,
    DialFailure,
    OtherNetwork,
    find_binary,
    run_cometbft,
)
from node.cometbft.rpc import CometRpc, CometRpcError
from node.cometbft.signed_headers import SignedHeaderKeeper
from node.cometbft.snapshots import AppSnapshots
from node.cometbft.transport import Gather, Handler, gather_nothing, serve_abci
from node.committed import from_comet_record
from node.config import CometBFTConfig, NodeConfig, get_timeouts
from node.keys import NODE_KEY, load_key
from node.liveness import CommitWatch, get_stall_limit_ms
from node.metrics import NodeMetrics
from node.p2p import P2PNode
from node.p2p.blocksync import get_stored_block, serve_blocks
from node.p2p.genesis import OtherGenesisPeer
from node.p2p.peer_links import PeerLinks
from node.p2p.topics import TX, get_topic
from node.p2p.txfetch import serve_txs
from node.services import NodeContext
from node.startup import NodeParts, open_host, open_node, start_node
from node.startup.tx_gossip import (
    add_to_mempool,
    admit_tx,
    build_tx_pool,
    receive_txs,
    regossip,
)
from node.statesync.backfill import backfill_below_snapshot
from node.statesync.fetch import StateSyncTimedOut, get_start_trust
from node.txpool import TxPool

log = logging.getLogger(__name__)
TRUST_RETRY_S = 2.0
"""Between two asks for the block state sync trusts, while no peer has given it."""
PEER_LINKS_POLL_S = 2.0
"""How often CometBFT's peers are read for `p2p.persistent_peers` (one local RPC call)."""


async def run_cometbft_node(
    config: NodeConfig, *, task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED
) -> None:
    """Runs the node described by `config` on CometBFT until cancelled, or until CometBFT
    exits on its own (`CometBFTExited`)."""
    timeouts = get_timeouts(config, COMETBFT)  # a bad [consensus] table writes nothing
    comet = config.cometbft
    assert comet is not None  # the loader always reads the table
    binary = find_binary()
    with open_node(config) as node:
        check_home_genesis(comet.home, node.genesis_hash, config.genesis_file)
        # A store holding only a restore may be one CometBFT never took up (stopped between
        # the app's restore and its own stores'): asked again, it state-syncs only if so.
        state_syncs = config.state_sync.enabled and (
            not node.store.latest_height() or node.store.get_restored_height() is not None
        )
        if state_syncs:
            get_start_trust(config, node.genesis)
        commits = CommitWatch(
            get_stall_limit_ms(timeouts), node.store.latest_height(), lambda: False
        )
        pool = build_tx_pool(node)
        restored = pool.restore()
        topics = [get_topic(TX)]
        async with (
            CometRpc(comet.home / RPC_SOCKET) as rpc,
            open_host(node, topics) as (p2p, nursery),
        ):
            await nursery.start(pool.run)
            for peer in comet.persistent_peers:
                node_id, _, address = peer.partition("@")
                p2p.peer_links.add(COMETBFT, node_id, address)
            serve_light_rpc(p2p, rpc)
            serve_blocks(
                p2p, functools.partial(get_stored_block, node.store), node.store.latest_height
            )
            chain = get_consensus_chain_id(node.genesis.chain_id, node.genesis_hash)
            trusted = await find_trusted_block(p2p, node, chain) if state_syncs else None
            write_comet_home(node, comet, timeouts, trusted)
            if trusted is not None:  # CometBFT's light client reads the peers through these
                sockets = tuple(comet.home / name for name in LIGHT_SOCKETS)
                await nursery.start(serve_light_sockets, p2p, sockets)
            publish_tx = functools.partial(p2p.publish, TX)
            api_node = LocalNode(
                config.chain_id, config.moniker, pool.mempool, lambda: node.app.state,
                node.store, publish_tx, metrics=node.metrics, pool=pool, commits=commits,
            )  # fmt: skip
            admit = functools.partial(admit_tx, pool, publish_tx)
            ctx = await start_node(nursery, node, p2p, api_node, commits, admit)
            keeper = SignedHeaderKeeper(rpc, node.store)
            ctx.on_commit(lambda block, root: keeper.on_commit())
            save = functools.partial(save_decided, node.blocks, pool, ctx)
            # CometBFT's peer filter reads the set `start_node`'s AllowedPeers keeps on the
            # p2p host (the validators in force, their rotation grace, the observers).
            snapshots = AppSnapshots(node.app, node.store, chain, node.served_snapshots)
            abci = ClearingAbci(
                node.app, node.genesis_hash, pool.mempool, save,
                empty_block_wait_ms=timeouts.empty_block_wait_ms,
                allowed_peers=lambda: p2p.allowed_peers, retain_height=node.store.first_height,
                snapshots=snapshots, store=node.store,
                fetch_bodies=functools.partial(fetch_bodies, p2p),
            )  # fmt: skip
            pool.on_added = abci.notice_txs
            serve_txs(p2p, abci.bodies.get)  # peers ask by hash what they lack
            max_request = 2 * compute_max_proposal_bytes(MAX_BLOCK_BYTES, MAX_BLOCK_TXS)
            refuse = functools.partial(refuse_other_network, p2p)
            dial_failed = functools.partial(record_dial_failure, p2p.peer_links)
            restart = EngineRestart(functools.partial(take_up_restart, abci, node.metrics))
            await nursery.start(
                run_engine, binary, comet.home, abci.handle, max_request, refuse,
                lambda: abci.halted, dial_failed, abci.gather, restart,
            )  # fmt: skip
            if comet.restart_behind_heights:
                behind = comet.restart_behind_heights
                nursery.start_soon(restart_when_behind, rpc, restart, behind)
            committed = trio.Event()
            ctx.on_commit(lambda block, root: committed.set())
            if trusted is not None:
                timeout_s = config.state_sync.timeout_s
                nursery.start_soon(watch_state_sync, snapshots.restored, committed, timeout_s)
            nursery.start_soon(receive_txs, p2p, add_to_mempool(pool))
            if restored:
                nursery.start_soon(regossip, p2p, pool, restored)
            if config.state_sync.backfill:
                synced = committed if trusted is not None else None
                nursery.start_soon(backfill_once_synced, p2p, node, synced)
            if comet.persistent_peers:
                nursery.start_soon(watch_peer_links, rpc, p2p.peer_links)
            await nursery.start(keeper.run)
            log.info(
                "node %s up on CometBFT: RPC %s, p2p %s:%d, height %d, %s",
                config.moniker, comet.home / RPC_SOCKET, config.p2p.listen_host, comet.p2p_port,
                node.store.latest_height(), "validator" if node.validator_key else "full node",
            )  # fmt: skip
            task_status.started(p2p)


async def run_engine(
    binary: Path,
    home: Path,
    handle: Handler,
    max_request: int,
    on_other_network: Callable[[OtherNetwork], None],
    halted: Callable[[], BaseException | None] = lambda: None,
    on_dial_failure: Callable[[DialFailure], None] = lambda failure: None,
    gather: Gather = gather_nothing,
    restart: EngineRestart | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The app's ABCI server, then `cometbft` on it; stopped in the other order. CometBFT
    stops (its WAL and stores flushed) while its app still answers: one that lost its app
    mid-block (block sync, a FinalizeBlock) ignored SIGTERM and was killed
    process.py's STOP_GRACE_S later, in about one test stop in three. CometBFT stopped by
    the app for an upgrade in place (`halted()`) ends the node with that reason. One
    stopped through `restart` is started again on the same home, the app serving on."""
    app_scope = trio.CancelScope(shield=True)
    restart = EngineRestart() if restart is None else restart

    async def serve_app(task_status: trio.TaskStatus[None]) -> None:
        with app_scope:
            await serve_abci(
                home / ABCI_SOCKET, handle, max_request, gather, task_status=task_status
            )

    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(serve_app)
            while True:
                with trio.CancelScope() as restart.scope:
                    try:
                        await run_cometbft(
                            binary, home, on_other_network, on_dial_failure,
                            task_status=task_status,
                        )  # fmt: skip
                    except CometBFTExited:
                        reason = halted()
                        if reason is None:
                            raise
                        raise reason from None
                task_status = trio.TASK_STATUS_IGNORED
                restart.count += 1
                restart.prepare()
                log.info("cometbft stopped for restart %d: starting it again", restart.count)
        finally:
            app_scope.cancel()


def record_dial_failure(links: PeerLinks, failure: DialFailure) -> None:
    """A failed redial of one of CometBFT's persistent peers, from its line."""
    if failure.node_id in links.get_peers(COMETBFT):
        # a peer of another network is warned about once already (refuse_other_network)
        links.record_failure(COMETBFT, failure.node_id, failure.error,
                             logged=failure.other_network)  # fmt: skip


async def watch_peer_links(rpc: CometRpc, links: PeerLinks) -> None:
    """Which of CometBFT's persistent peers it holds a connection to (`net_info`), every
    PEER_LINKS_POLL_S: CometBFT says when a dial fails, not when a peer comes or goes."""
    while True:
        try:
            info = await rpc.call("net_info")
        except CometRpcError as exc:  # CometBFT starting or stopping: the next look tells
            log.debug("net_info: %s", exc)
        else:
            held = {peer["node_info"]["id"] for peer in info["peers"]}
            for node_id in links.get_peers(COMETBFT):
                links.record_link(COMETBFT, node_id, node_id in held)
        await trio.sleep(PEER_LINKS_POLL_S)


def refuse_other_network(p2p: P2PNode, found: OtherNetwork) -> None:
    """A peer CometBFT refused for another network, told as the p2p host tells its own
    refusals of another genesis: a warning once per peer, a count."""
    node_id, _, address = found.address.partition("@")
    p2p.other_genesis.refuse(OtherGenesisPeer(
        COMETBFT, f"node {node_id}" if node_id else "(an inbound peer: CometBFT names none)",
        address or "an unknown address", f"chain {found.theirs}", f"chain {found.ours}",
    ))  # fmt: skip


async def watch_state_sync(restored: trio.Event, committed: trio.Event, timeout_s: int) -> None:
    """StateSyncTimedOut if CometBFT's state sync has neither restored the store
    (`restored`) nor, having taken up an earlier restore, had the node commit a block
    (`committed`) within `timeout_s`: it waits on its own for snapshots, and for a chunk
    no peer holds any longer (pruned while it fetched), without end. Restarted, the node
    asks again from the newest snapshots."""
    with trio.move_on_after(timeout_s):
        async with trio.open_nursery() as waiting:
            for event in (restored, committed):
                waiting.start_soon(cancel_when_set, event, waiting.cancel_scope)
        return
    raise StateSyncTimedOut(timeout_s)


async def backfill_once_synced(p2p: P2PNode, node: NodeParts, synced: trio.Event | None) -> None:
    """Backfill below the store's snapshot, once a state sync's restore is taken up
    (`synced`: the first commit after it): until then, a store holding a restore CometBFT
    never took up may be replaced by the next one."""
    if synced is not None:
        await synced.wait()
    await backfill_below_snapshot(p2p, node, COMET_BLOCKS)


async def cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def find_trusted_block(p2p: P2PNode, node: NodeParts, chain: str) -> TrustedBlock:
    """The block CometBFT's state sync starts its light client from, asked of the peers
    until one gives it (StateSyncTimedOut after `state_sync.timeout_s`)."""
    state_sync = node.config.state_sync
    with trio.move_on_after(state_sync.timeout_s):
        while True:
            if p2p.connected_peers():
                try:
                    trusted = await get_trusted_block(
                        p2p, node.genesis, chain, state_sync.checkpoint
                    )
                except LightRpcError as exc:
                    log.warning("state sync: %s", exc)
                else:
                    log.info("state sync: trusting block %d (0x%s)", trusted.height,
                             trusted.header_hash.hex())  # fmt: skip
                    return trusted
            await trio.sleep(TRUST_RETRY_S)
    raise StateSyncTimedOut(state_sync.timeout_s)


def write_comet_home(
    node: NodeParts, comet: CometBFTConfig, timeouts: TimeoutConfig, state_sync: TrustedBlock | None
) -> None:
    """CometBFT's home, written from this node's keys, genesis and config (its state sync
    on, from `state_sync`, for a node that restores from a snapshot)."""
    config = node.config
    write_home(
        comet.home,
        moniker=config.moniker,
        genesis=node.genesis,
        genesis_hash=node.genesis_hash,
        node_key=load_key(config.node_key_file, NODE_KEY).ed25519(),
        validator_key=None if node.validator_key is None else node.validator_key.ed25519(),
        listeners=get_listeners(config, comet),
        persistent_peers=comet.persistent_peers,
        timeouts=timeouts,
        state_sync=state_sync,
    )


def get_listeners(config: NodeConfig, comet: CometBFTConfig) -> Listeners:
    return Listeners(
        config.p2p.listen_host,
        comet.p2p_port,
        comet.metrics_port or None,
        comet.external_address,
        comet.pprof_port or None,
    )


def save_decided(
    blocks: SqliteBlockStore, pool: TxPool, ctx: NodeContext, decided: DecidedBlock
) -> None:
    """The app's `commit`: the record of the block it applied, saved, its transactions out
    of the mempool and the rest rechecked, then announced."""
    record, root = decided.record, decided.result.state_root
    blocks.save(record.height, record.encode(), b"", root, record.txs)
    pool.update(record.txs)
    ctx.notify_commit(from_comet_record(record, decided.proposal_accepted_ms), root)


def take_up_restart(abci: ClearingAbci, metrics: NodeMetrics | None) -> None:
    """Between a CometBFT stopped for a restart and the next (the node's mempool, its
    own, stays as it is)."""
    abci.take_up_new_engine()
    if metrics is not None:
        metrics.engine_restarts.inc()
