"""What every node starts, whichever engine orders its blocks.

Each engine's start-up (`node/engine/runtime.py:run_node` on ours,
`node/cometbft/runtime.py:run_cometbft_node` on CometBFT) is these three steps with
its own part between them:

1. `open_node`: the home's genesis, the clearing app at the store's tip
   (`node/restore.py`) with the members' history caught up, the block store, the keys
   and the services this node runs, built before the p2p host opens;
2. `open_host`: the p2p host, subscribed to the engine's topics and the services', and
   the nursery that owns every task of the node;
3. `start_node`: the HTTP API over the engine's `NodeInterface`, the node context, and
   the services, with the node's own parts subscribed to its commits around them.

Then the engine starts, and hands each block it commits to `NodeContext.notify_commit`:
the API's streams and counters, the allowed peers, the services, the liveness watch and
the metrics hear it in that order (then what the engine subscribed itself).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import trio

from clearing.events import Event
from clearing.genesis import Genesis
from clearing.state import ClearingState
from clearing.transition.block import BlockResult
from clearing.transition.snapshot import encode_snapshot
from clearing.upgrade import get_due_plan
from node.api.counters import add_status_section, expose_work
from node.api.node_interface import NodeInterface, get_blocks_left
from node.api.serve import serve_api_of
from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.clearing_app import ClearingApp
from node.committed import CommittedBlock
from node.config import NodeConfig
from node.genesis_file import load_genesis, read_genesis_hash
from node.history.indexer import catch_up_history, get_last_block_history
from node.keys import NODE_KEY, VALIDATOR_KEY, KeyFile, load_key
from node.liveness import CommitWatch
from node.metrics import NodeMetrics
from node.p2p import HostConfig, P2PNode, Topic, open_p2p
from node.p2p.allowed_peers import (
    AllowedPeers,
    check_persistent_peers,
    get_allowed_peers,
    get_peer_validators,
)
from node.ports import get_bind_problem, get_port_taken_error
from node.restore import restore_state
from node.served_snapshots import ServedSnapshots
from node.services import NodeContext, NodeContextInputs, Service
from node.startup.service_list import build_services
from node.storage import NodeStore
from node.worktime import WorkTime

log = logging.getLogger(__name__)


@dataclass
class NodeParts:
    """A node's parts before its p2p host opens, restored from its home."""

    config: NodeConfig
    genesis: Genesis
    genesis_hash: bytes
    """SHA-256 of the genesis file (what the store, the chain's name and peers are bound to)."""
    work: WorkTime
    app: ClearingApp
    """At the store's tip; `ClearingApp.apply_block` is the one writer of its state."""
    store: NodeStore
    blocks: SqliteBlockStore
    allowed_peers: frozenset[str] | None
    """Who the p2p host talks to at start, as the committed state lists them (None: any)."""
    validator_key: KeyFile | None
    """This node's consensus key, if its home has one (a validator, or one governance
    may add)."""
    services: list[Service]
    metrics: NodeMetrics | None
    served_snapshots: ServedSnapshots
    """The snapshots peers are fetching, which pruning spares."""


@contextmanager
def open_node(config: NodeConfig, synced: ClearingState | None = None) -> Iterator[NodeParts]:
    """The node of `config`'s home, its app at the store's tip (`synced`: the state state
    sync has just checked and stored there, if it ran); the store closes on leaving."""
    genesis = load_genesis(config)
    genesis_hash = read_genesis_hash(config)
    work = WorkTime()
    app = ClearingApp(genesis, work)
    genesis_root = app.last_root
    store = NodeStore(config.storage.path)
    try:
        store.bind_genesis(genesis_hash, config.genesis_file)
        restore_state(app, store, synced)
        app.check_height(app.height + 1)  # this release applies the next block, or stops
        allowed_peers = get_allowed_peers(config, genesis, get_peer_validators(config, app.state))
        if allowed_peers is not None:
            check_persistent_peers(config, genesis, allowed_peers)
        catch_up_history(store, genesis)
        validator_key = (
            load_key(config.validator_key_file, VALIDATOR_KEY)
            if config.validator_key_file.exists()
            else None
        )
        inputs = NodeContextInputs(genesis, validator_key is not None, lambda: app.state)
        served = ServedSnapshots()
        yield NodeParts(
            config,
            genesis,
            genesis_hash,
            work,
            app,
            store,
            build_block_store(config, store, app, genesis_root, served),
            allowed_peers,
            validator_key,
            build_services(config, inputs),
            NodeMetrics(config.moniker) if config.metrics.enabled else None,
            served,
        )
    finally:
        store.close()


def build_block_store(
    config: NodeConfig,
    store: NodeStore,
    app: ClearingApp,
    genesis_root: bytes,
    served: ServedSnapshots,
) -> SqliteBlockStore:
    """The committed blocks, each saved with its members' history and, on schedule, the
    state snapshot after it, and pruned then to the configured retention (sparing the
    snapshots peers are fetching)."""
    retention = config.retention
    return SqliteBlockStore(
        store,
        genesis_root,
        SnapshotSchedule(
            config.storage.snapshot_interval,
            config.storage.snapshots_kept,
            lambda: encode_snapshot(app.state),
            lambda height: get_due_plan(app.state, height + 1) is not None,
            served.get_held,
        ),
        functools.partial(get_last_block_history, app),
        app.work,
        None if retention.keeps_everything else lambda store: retention.prune(store, app.state),
    )


def get_storage_view(config: NodeConfig, store: NodeStore) -> dict[str, int]:
    """GET /v1/status's `storage`: what this node keeps (0: all) and the first heights it
    holds, from which it answers blocks and members' history."""
    return {
        "blocks_kept": config.storage.blocks_kept,
        "history_blocks_kept": config.storage.history_blocks_kept,
        "first_height": store.first_height(),
        "history_first_height": store.history_first_height(),
    }


@asynccontextmanager
async def open_host(
    node: NodeParts, topics: Sequence[Topic]
) -> AsyncIterator[tuple[P2PNode, trio.Nursery]]:
    """The p2p host, subscribed to the engine's `topics` and the services' topics, and
    the nursery that owns every task of the node."""
    services_topics = [topic for service in node.services for topic in service.topics]
    host_config = get_host_config(node.config, node.allowed_peers, node.genesis_hash)
    async with (
        open_p2p(host_config, [*topics, *services_topics], node.work) as p2p,
        trio.open_nursery() as nursery,
    ):
        check_listening(node.config, p2p)
        yield p2p, nursery


def get_host_config(
    config: NodeConfig, allowed_peers: frozenset[str] | None, genesis_hash: bytes
) -> HostConfig:
    return HostConfig(
        key_seed=load_key(config.node_key_file, NODE_KEY).secret,
        listen_host=config.p2p.listen_host,
        listen_port=config.p2p.listen_port,
        persistent_peers=config.p2p.persistent_peers,
        allowed_peers=allowed_peers,
        genesis_hash=genesis_hash,
    )


def check_listening(config: NodeConfig, p2p: P2PNode) -> None:
    """The host listens: py-libp2p only logs a failed bind and runs unreachable. Another
    node started at the same instant on the same port is the usual cause (both found it
    free); it ends here as the one-line error `clearnode start` gives for a taken port."""
    if p2p.listen_addrs():
        return
    problem = get_bind_problem(config.p2p.listen_host, config.p2p.listen_port)
    raise get_port_taken_error(config, "p2p.listen_port", problem or "its bind failed")


async def start_node(
    nursery: trio.Nursery,
    node: NodeParts,
    p2p: P2PNode,
    api_node: NodeInterface,
    commits: CommitWatch,
    admit_tx: Callable[[bytes], Awaitable[None]],
) -> NodeContext:
    """Serves the API over `api_node` and starts the services in `nursery`, in order,
    before the engine runs; returns the node context, which the engine tells of each
    block it commits. `admit_tx` hands a service's transaction to the node's mempool."""
    config, validator_key = node.config, node.validator_key
    api = await nursery.start(serve_api_of, config, api_node, node.metrics, node.store)
    key = None if validator_key is None else validator_key.ed25519()
    ctx = NodeContext(
        config, node.genesis, node.genesis_hash, node.app, node.store, p2p, api, key, admit_tx
    )
    allowed = AllowedPeers(config, node.genesis, p2p, node.app.state)
    ctx.on_commit(functools.partial(announce_to_api, ctx))
    ctx.on_commit(lambda block, root: allowed.on_commit(ctx.state))
    node.blocks.on_history = api.publish_history
    if node.metrics is not None:
        node.metrics.watch_peers(lambda: len(p2p.connected_peers()))
    expose_work(api, node.work, p2p)
    for service in node.services:
        log.info("starting service %s", service.name)
        await nursery.start(service.serve, ctx)
    add_status_section(api, "health", commits.get_health)
    add_status_section(api, "storage", functools.partial(get_storage_view, config, node.store))
    ctx.on_commit(lambda block, root: commits.record_commit(block.height))
    if node.metrics is not None:
        ctx.on_commit(functools.partial(observe_commit, node.metrics, node.app))
        node.metrics.watch_upgrade(lambda: get_blocks_left(node.app.state))
    return ctx


def announce_to_api(ctx: NodeContext, block: CommittedBlock, root: bytes) -> None:
    """The API's streams and history hear a committed block; each jailing is logged and
    counted."""
    api, result = ctx.api, ctx.app.last_result
    jailed = [] if result is None else log_jailings(block.height, result)
    if api.metrics is not None and jailed:
        api.metrics.observe_jailings(len(jailed))
    api.publish_block(block.height, block.block_hash, root, block.time_ms, get_codes(result))
    if result is not None:
        api.record_block(result)


def observe_commit(
    metrics: NodeMetrics, app: ClearingApp, block: CommittedBlock, root: bytes
) -> None:
    metrics.observe_commit(block.height, get_codes(app.last_result), time.monotonic())


def get_codes(result: BlockResult | None) -> list[str]:
    """Each transaction's result code, in block order."""
    return [] if result is None else [r.code for r in result.tx_results]


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
