"""Node services beside consensus: each one owns a piece of the node's duties.

A `Service` declares its gossip topics (the host subscribes to them when it
opens) and a `serve(ctx, task_status=...)` coroutine that `run_node` starts in
the node's nursery once the API and p2p host are up and before consensus
runs. Through the `NodeContext` a service reads the committed state, submits
transactions (mempool + gossip, exactly as the HTTP API does), publishes on
its topics, adds HTTP routes and listens to commits. A service that is not
configured (`is_enabled(config)` false) is neither subscribed nor started.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.genesis import Genesis
from clearing.state import ClearingState
from consensus.types import Block, CommitCertificate
from node.api.app import ApiApp
from node.app import ClearingApp
from node.config import NodeConfig
from node.mempool import MempoolError
from node.p2p import P2PNode, Topic
from node.storage import NodeStore
from node.txpool import TxPool

log = logging.getLogger(__name__)

CommitListener = Callable[[Block, CommitCertificate, bytes], None]


@dataclass
class NodeContext:
    """What a service may use; the runtime builds one per node."""

    config: NodeConfig
    genesis: Genesis
    app: ClearingApp
    store: NodeStore
    pool: TxPool
    p2p: P2PNode
    api: ApiApp
    validator_key: Ed25519PrivateKey | None
    """This node's consensus key when it has one (a validator, or one governance may
    add: services check the set in force before using it), else None."""
    publish_tx: Callable[[bytes], Awaitable[None]]
    commit_listeners: list[CommitListener] = field(default_factory=list)

    @property
    def state(self) -> ClearingState:
        """The clearing state after the latest committed block (read only)."""
        return self.app.state

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(block, certificate, state_root)` after every committed block."""
        self.commit_listeners.append(listener)

    def notify_commit(self, block: Block, certificate: CommitCertificate, root: bytes) -> None:
        for listener in self.commit_listeners:
            listener(block, certificate, root)

    async def submit_tx(self, raw: bytes) -> bool:
        """Admit `raw` to the mempool (recorded on disk) and gossip it; False (logged) if the
        mempool refuses."""
        try:
            await self.pool.add(raw)
        except MempoolError as exc:
            log.debug("service tx refused by the mempool: %s", exc)
            return False
        await self.publish_tx(raw)
        return True


class ServeFn(Protocol):
    async def __call__(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = ...
    ) -> None: ...


@dataclass(frozen=True)
class Service:
    name: str
    topics: tuple[Topic, ...]
    is_enabled: Callable[[NodeConfig, NodeContextInputs], bool]
    serve: ServeFn
    make_topics: Callable[[NodeConfig, NodeContextInputs], tuple[Topic, ...]] | None = None
    """Topics whose first-hop check needs this node's genesis (e.g. validator signatures);
    `get_enabled_services` puts them in `topics`."""


@dataclass(frozen=True)
class NodeContextInputs:
    """What decides whether a service runs, known before the p2p host opens."""

    genesis: Genesis
    is_validator: bool
    state: Callable[[], ClearingState]
    """The committed state (what a topic's first-hop check reads: e.g. the instruments
    listed since genesis)."""


def get_services() -> list[Service]:
    """Every service the node knows, in start order."""
    # Imported here: each service module imports this one for NodeContext and Service.
    from node.collateral.service import BRIDGE_SERVICE
    from node.oracle.serve import ORACLE
    from node.reports.service import REPORTS_SERVICE
    from node.status.service import STATUS
    from node.verifier.serve import VERIFIER

    return [STATUS, VERIFIER, REPORTS_SERVICE, BRIDGE_SERVICE, ORACLE]


def get_enabled_services(config: NodeConfig, inputs: NodeContextInputs) -> list[Service]:
    """The services to run, their node-specific topics made (see `Service.make_topics`)."""
    return [
        s if s.make_topics is None else replace(s, topics=s.topics + s.make_topics(config, inputs))
        for s in get_services()
        if s.is_enabled(config, inputs)
    ]
