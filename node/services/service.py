"""What a node service is and what it may use; `node/startup/service_list.py` lists them.

A service is an object built from the node's config and genesis
(`ServiceKind(config, inputs)`) before the p2p host opens: it owns its gossip
topics (the host subscribes to them when it opens), and its `serve(ctx,
task_status=...)` coroutine, which `node/startup/steps.py:start_node` starts in the node's
nursery once the API and p2p host are up and before the engine runs, builds its state
and adds its routes. Through the `NodeContext` a service reads the committed state, submits
transactions (mempool + gossip, exactly as the HTTP API does), publishes on its
topics, adds HTTP routes and listens to commits. A service its kind says is not
enabled for this node (`is_enabled(config, inputs)`) is neither built nor started.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.genesis import Genesis
from clearing.state import ClearingState
from node.api.server import ApiApp
from node.clearing_app import ClearingApp
from node.committed import CommittedBlock
from node.config import NodeConfig
from node.mempool import MempoolError
from node.p2p import P2PNode, Topic
from node.storage import NodeStore

log = logging.getLogger(__name__)

CommitListener = Callable[[CommittedBlock, bytes], None]


@dataclass
class NodeContext:
    """What a service may use; `node/startup/steps.py` builds one per node. The node's own parts
    (the API's streams, the allowed peers, the liveness watch, our engine's WAL
    compaction) hear commits through it as the services do."""

    config: NodeConfig
    genesis: Genesis
    genesis_hash: bytes
    """SHA-256 of the genesis file: the chain's name carries it (`get_consensus_chain_id`)."""
    app: ClearingApp
    store: NodeStore
    p2p: P2PNode
    api: ApiApp
    validator_key: Ed25519PrivateKey | None
    """This node's consensus key when it has one (a validator, or one governance may
    add: services check the set in force before using it), else None."""
    admit_tx: Callable[[bytes], Awaitable[None]]
    """Hands a transaction to the node's mempool (recorded on disk, then gossiped on the
    `tx` topic: node/startup/tx_gossip.py); raises MempoolError if refused."""
    commit_listeners: list[CommitListener] = field(default_factory=list)

    @property
    def state(self) -> ClearingState:
        """The clearing state after the latest committed block (read only)."""
        return self.app.state

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(block, state_root)` after every committed block."""
        self.commit_listeners.append(listener)

    def notify_commit(self, block: CommittedBlock, root: bytes) -> None:
        for listener in self.commit_listeners:
            listener(block, root)

    async def submit_tx(self, raw: bytes) -> bool:
        """Admit `raw` to the mempool, as the HTTP API does; False (logged) if the mempool
        refuses."""
        try:
            await self.admit_tx(raw)
        except MempoolError as exc:
            log.debug("service tx refused by the mempool: %s", exc)
            return False
        return True


@dataclass(frozen=True)
class NodeContextInputs:
    """What decides whether a service runs, known before the p2p host opens."""

    genesis: Genesis
    is_validator: bool
    state: Callable[[], ClearingState]
    """The committed state (what a topic's first-hop check reads: e.g. the instruments
    listed since genesis)."""


class Service(Protocol):
    """One service of a node, built by its kind (`ServiceKind`) from the node's config and
    genesis before the p2p host opens."""

    @property
    def name(self) -> str: ...

    @property
    def topics(self) -> tuple[Topic, ...]:
        """Its gossip topics: the host subscribes to them when it opens."""
        ...

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = ...
    ) -> None: ...


class ServiceKind(Protocol):
    """A service's class: whether a node runs it, and building it."""

    @property
    def name(self) -> str: ...

    def __call__(self, config: NodeConfig, inputs: NodeContextInputs) -> Service: ...

    def is_enabled(self, config: NodeConfig, inputs: NodeContextInputs) -> bool: ...


class RoutesService:
    """The shape of a service that only adds routes: no topic, nothing to build before
    the host opens, and it runs wherever the API is on."""

    topics: tuple[Topic, ...] = ()

    def __init__(self, config: NodeConfig, inputs: NodeContextInputs) -> None:
        return None

    @staticmethod
    def is_enabled(config: NodeConfig, inputs: NodeContextInputs) -> bool:
        return config.api.enabled
