"""The bridge as a node service.

On every node (of a network with collateral): the `bridge` topic (checked at the
first hop, see gossip.py), the pools of deposit, payout and expiry attestations and
of withdrawal and vault-rotation signatures, a proposal source, the withdrawal and
rotation routes a relayer reads and the route external bridges report deposits to
(api.py), whose reports are gossiped for every validator to check and attest. On a
validator with `[[bridge_chains]]`: one watcher and attest loop per chain (chains.py),
the attestation of every pending withdrawal on a watched chain that expired unpaid, a
read of each watched vault's validator set at a final block, and, with its `[keys]
bridge_key_file`, the EVM signature of the rotation of a vault whose set is not the
consensus set (rotations.py) and of every pending withdrawal on a watched chain,
for the vault's epoch (withdrawals.py). On every validator: re-observation of
deposits stuck below quorum that it has not signed, and answers to peers' requests
for them (reobserve.py).

The chain side (chain_duties.py and what it imports: web3 and eth_account, over a
quarter of a node's start-up imports) is imported only where a validator has
`[[bridge_chains]]`: no other node's bridge talks to a chain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import trio

from node.api.counters import BRIDGE_REOBSERVE_REQUESTS, BRIDGE_VAULT_ROTATIONS, CountersCollector
from node.bridge.admission import RequestGate
from node.bridge.api import BridgeApi
from node.bridge.bridge_node import BridgeNode
from node.bridge.gossip import BridgeCheck
from node.bridge.reobserve import Lookup, Reobserver
from node.config import NodeConfig
from node.keys import BRIDGE_KEY, load_key
from node.services import NodeContext, NodeContextInputs

log = logging.getLogger(__name__)


def load_bridge_key(config: NodeConfig) -> bytes | None:
    """The validator's EVM key from its `[keys] bridge_key_file`, read once at start, or
    None (logged) when there is no such file. Raises KeyFileError for one that is
    unreadable, malformed or too open. Whether it signs is decided each time it would
    (OwnKeys.get_bridge_key): governance adds, removes and re-keys validators."""
    if not config.bridge_key_file.exists():
        log.warning("no withdrawal or rotation signatures from this validator: no bridge key "
                    "file %s", config.bridge_key_file)  # fmt: skip
        return None
    key = load_key(config.bridge_key_file, BRIDGE_KEY)
    log.info("bridge key 0x%s loaded", key.public_key().hex())
    return key.secret


class BridgeService:
    """Wherever the network has collateral: every node pools and serves the bridge topic;
    validators watch the chains and sign."""

    name = "bridge"

    def __init__(self, config: NodeConfig, inputs: NodeContextInputs) -> None:
        grace = config.bridge.rotation_grace_blocks
        self.request_gate = RequestGate(lambda: inputs.state().validators)
        check = BridgeCheck.from_genesis(inputs.genesis, inputs.state, grace)
        self.topics = (check.topic(self.request_gate),)

    @staticmethod
    def is_enabled(_: NodeConfig, inputs: NodeContextInputs) -> bool:
        return bool(inputs.genesis.collateral)

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        bridge_key = None if ctx.validator_key is None else load_bridge_key(ctx.config)
        node = BridgeNode(ctx, bridge_key, ctx.config.bridge.rotation_grace_blocks)
        ctx.on_commit(node.on_commit)
        ctx.app.add_proposal_source(node.propose)
        ctx.api.add_routes(BridgeApi(node).routes())
        expose_request_gate(node, self.request_gate)
        expose_rotation_counters(node)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(node.receive)
                nursery.start_soon(node.regossip)
                if ctx.validator_key is not None:
                    lookups: Mapping[int, Lookup] = {}
                    if ctx.config.bridge_chains:
                        # The bridge's one import of its chain side: web3 and eth_account,
                        # over a quarter of a start's imports, paid only by a validator
                        # watching chains.
                        from node.bridge.chain_duties import start_chain_duties

                        lookups = start_chain_duties(node, nursery)
                    start_reobserver(node, lookups, nursery)
                task_status.started()
        finally:
            if node.reobserver is not None:
                node.reobserver.close()


def expose_request_gate(node: BridgeNode, gate: RequestGate) -> None:
    """Serve the counters of the bridge topic's first-hop gate in GET /v1/bridge and as
    clearnode_bridge_reobserve_requests_total."""
    node.request_gate = gate
    if node.ctx.api.metrics is not None:
        node.ctx.api.metrics.registry.register(
            CountersCollector(
                BRIDGE_REOBSERVE_REQUESTS,
                lambda: [((verdict,), count) for verdict, count in gate.counters.items()],
            )
        )


def start_reobserver(
    node: BridgeNode, lookups: Mapping[int, Lookup], nursery: trio.Nursery
) -> None:
    """Every validator asks about stuck deposits; it looks up those on the chains it
    watches (`lookups`, by EVM chain id)."""
    ctx = node.ctx
    assert ctx.validator_key is not None
    node.reobserver = Reobserver(
        node.credits,
        ctx.validator_key.public_key().public_bytes_raw(),
        lookups,
        ctx.config.bridge.reobserve_after_ms / 1000,
        node,
    )
    nursery.start_soon(node.reobserver.ask_forever)
    nursery.start_soon(node.reobserver.answer_forever)


def expose_rotation_counters(node: BridgeNode) -> None:
    """Rotations this validator signed and saw completed, per chain name, as
    clearnode_bridge_vault_rotations_total{chain, event}: declared on every node, so a
    dashboard finds the series; counted where a validator watches chains."""
    if node.ctx.api.metrics is not None:
        node.ctx.api.metrics.registry.register(
            CountersCollector(BRIDGE_VAULT_ROTATIONS, lambda: list(node.rotation_counters.items()))
        )
