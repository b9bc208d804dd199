"""A node whose network's engine is CometBFT: one nursery owning the ABCI server, the
`cometbft` process, the HTTP API, the p2p host of the services and the services.

CometBFT orders the blocks and gossips transactions and votes; the clearing app,
the store, the API and the services are the node's own, as on our engine. The
services keep their libp2p topics (oracle observations, bridge attestations, report
shares): they gossip among validators what enters blocks as attested transactions,
which CometBFT's vote extensions would carry only at a cost to every block's latency
(docs/architecture.md). The CometBFT home is written from the node's keys, genesis
and `[cometbft]` config at every start; its data directory (blocks, state, signing
state) is CometBFT's, and a restart replays into the app what it lacks (ABCI's
handshake), so the two stores always agree.
"""

from __future__ import annotations

import logging

import trio

from clearing.genesis import compute_genesis_hash
from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS
from consensus.types import compute_max_proposal_bytes
from node.allowed_peers import AllowedPeers
from node.api.serve import serve_api_of
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.cometbft.abci import ClearingAbci, DecidedBlock
from node.cometbft.home import ABCI_SOCKET, Listeners, Timeouts, write_home
from node.cometbft.node_interface import CometNode
from node.cometbft.process import find_binary, run_cometbft
from node.cometbft.rpc import CometRpc, RpcError
from node.cometbft.signed_headers import SignedHeaderKeeper
from node.cometbft.transport import serve_abci
from node.committed import from_comet_record
from node.config import CometBFTConfig, NodeConfig
from node.genesis_file import load_genesis
from node.keys import NODE_KEY, VALIDATOR_KEY, load_key
from node.liveness import CommitWatch
from node.metrics import NodeMetrics
from node.p2p import P2PNode, open_p2p
from node.runtime import (
    announce_commit,
    build_block_store,
    check_listening,
    get_p2p_config,
    restore_node,
    start_services,
)
from node.service_list import build_services
from node.services import NodeContext, NodeContextInputs
from node.storage import NodeStore
from node.txcheck import make_clearing_check
from node.worktime import WorkTime

log = logging.getLogger(__name__)
DEFAULT_TIMEOUTS = Timeouts()
RPC_POLL_S = 0.2


async def resubmit_when_up(node: CometNode, rpc: CometRpc) -> None:
    """The recorded transactions back into CometBFT's mempool once its RPC answers."""
    while True:
        try:
            await rpc.get_height()
        except RpcError:
            await trio.sleep(RPC_POLL_S)
            continue
        await node.resubmit_pending()
        return


def get_listeners(config: NodeConfig, comet: CometBFTConfig) -> Listeners:
    metrics = comet.metrics_port or None
    return Listeners(
        config.p2p.listen_host, comet.p2p_port, comet.rpc_port, metrics, comet.external_address
    )


async def run_cometbft_node(
    config: NodeConfig,
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs the node described by `config` on CometBFT until cancelled, or until CometBFT
    exits on its own (`CometBFTExited`)."""
    genesis = load_genesis(config)
    genesis_hash = compute_genesis_hash(config.genesis_file.read_bytes())
    comet = config.cometbft
    assert comet is not None  # the loader always reads the table
    binary = find_binary()
    work = WorkTime()
    app = ClearingApp(genesis, work)
    genesis_root = app.last_root
    store = NodeStore(config.storage.path)
    try:
        allowed_peers = restore_node(config, app, store)
        node_key = load_key(config.node_key_file, NODE_KEY).ed25519()
        validator_key = (
            load_key(config.validator_key_file, VALIDATOR_KEY).ed25519()
            if config.validator_key_file.exists()
            else None
        )
        write_home(
            comet.home,
            moniker=config.moniker,
            genesis=genesis,
            genesis_hash=genesis_hash,
            node_key=node_key,
            validator_key=validator_key,
            listeners=get_listeners(config, comet),
            persistent_peers=comet.persistent_peers,
            timeouts=timeouts,
            mempool_max_txs=config.mempool.max_txs,
            mempool_max_bytes=config.mempool.max_bytes,
        )
        blocks = build_block_store(config, store, app, genesis_root)
        services = build_services(
            config, NodeContextInputs(genesis, validator_key is not None, lambda: app.state)
        )
        topics = [topic for service in services for topic in service.topics]
        check = make_clearing_check(lambda: app.state, wall_clock_ms)
        commits = CommitWatch(timeouts.get_stall_limit_ms(), store.latest_height(), lambda: False)
        pending: dict[bytes, int] = {}
        async with (
            CometRpc(comet.rpc_port) as rpc,
            open_p2p(get_p2p_config(config, allowed_peers), topics, work) as p2p,
            trio.open_nursery() as nursery,
        ):
            check_listening(config, p2p)
            metrics = NodeMetrics(config.moniker) if config.metrics.enabled else None
            node = CometNode(
                config.chain_id, config.moniker, lambda: app.state, check, pending, rpc, store,
                config.mempool.max_tx_bytes, metrics, commits,
            )  # fmt: skip
            api = await nursery.start(serve_api_of, config, node, metrics, store)
            ctx = NodeContext(config, genesis, app, store, p2p, api, validator_key, node.hand_over)
            allowed = AllowedPeers(config, genesis, p2p, app.state)

            keeper = SignedHeaderKeeper(rpc, store)

            def commit(decided: DecidedBlock) -> None:
                record, root = decided.record, decided.result.state_root
                blocks.save(record.height, record.encode(), b"", root, record.txs)
                announce_commit(ctx, allowed, commits, from_comet_record(record), root)
                keeper.on_commit()

            abci = ClearingAbci(app, genesis_hash, check, commit, pending)
            blocks.on_history = api.publish_history
            await start_services(nursery, services, ctx, commits)
            max_request = 2 * compute_max_proposal_bytes(MAX_BLOCK_BYTES, MAX_BLOCK_TXS)
            await nursery.start(serve_abci, comet.home / ABCI_SOCKET, abci.handle, max_request)
            await nursery.start(run_cometbft, binary, comet.home)
            nursery.start_soon(resubmit_when_up, node, rpc)
            await nursery.start(keeper.run)
            log.info(
                "node %s up on CometBFT: RPC 127.0.0.1:%d, p2p %s:%d, height %d, %s",
                config.moniker, comet.rpc_port, config.p2p.listen_host, comet.p2p_port,
                store.latest_height(), "validator" if validator_key else "full node",
            )  # fmt: skip
            task_status.started(p2p)
    finally:
        store.close()
