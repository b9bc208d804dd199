"""Whole nodes in one trio loop: `run_node` per home, services included.

For service tests (oracle, bridge, reports): each node is the real runtime
(SQLite store, WAL, libp2p on 127.0.0.1, HTTP API, the enabled services)
configured by the TOML its home gets, without the cost of an OS process each.

    async with open_node_network(tmp_path, extra_config=...) as net:
        await net.wait_for_height(5)

The nodes log through the same loggers: `tag_records_with_node` says which node wrote a
record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from node.config import load_config
from node.engine.runtime import run_node
from node.p2p import P2PNode
from node.storage import NodeStore
from tests.node.netproc import GENESIS_DOC, ORACLE_OFF, NodeHome

NODE_NAME: ContextVar[str | None] = ContextVar("node_name", default=None)
"""The name of the home whose node runs the current task (each task of a node inherits it)."""


@dataclass
class NodeNetwork:
    homes: list[NodeHome]
    nursery: trio.Nursery
    scopes: dict[str, trio.CancelScope]
    peers: dict[str, P2PNode]
    client: httpx.AsyncClient
    """For polls: a client made per request costs the loop the nodes share 21 ms of CPU."""
    stopped: dict[str, trio.Event] = field(default_factory=dict)

    async def start(self, home: NodeHome) -> None:
        """Runs `home`'s node in this network's nursery until stopped."""
        scope = trio.CancelScope()
        stopped = self.stopped[home.name] = trio.Event()

        async def run(task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED) -> None:
            NODE_NAME.set(home.name)
            try:
                with scope:
                    await run_node(load_config(home.path), task_status=task_status)
            finally:
                stopped.set()

        self.scopes[home.name] = scope
        self.peers[home.name] = await self.nursery.start(run)

    async def stop(self, home: NodeHome) -> None:
        """Stops `home`'s node and waits until it has closed its ports and files, as a
        process that exits has: a node started again binds the same port."""
        self.scopes.pop(home.name).cancel()
        self.peers.pop(home.name, None)
        await self.stopped.pop(home.name).wait()

    def get_height(self, home: NodeHome) -> int:
        with NodeStore(home.db) as store:
            return store.latest_height()

    async def wait_for_height(self, height: int, timeout_s: float = 60) -> None:
        """Until every running node has committed `height` (AssertionError naming where
        each node stood otherwise)."""
        with trio.move_on_after(timeout_s):
            while any(self.get_height(h) < height for h in self.running()):
                await trio.sleep(0.1)
            return
        raise AssertionError(f"height {height} not reached within {timeout_s} s:\n"
                             f"{self.describe()}")  # fmt: skip

    def describe(self) -> str:
        """Where each running node stands: its height, its peers, its gossip counters."""
        lines = []
        for home in self.running():
            p2p = self.peers[home.name]
            counters = sorted((f"{a}/{b}", n) for (a, b), n in p2p.counters.items())
            lines.append(
                f"{home.name}: height {self.get_height(home)}, peers "
                f"{len(p2p.connected_peers())}, consensus mesh "
                f"{len(p2p.get_mesh_peers('consensus'))}; {dict(counters)}"
            )
        return "\n".join(lines)

    def running(self) -> list[NodeHome]:
        return [h for h in self.homes if h.name in self.scopes]

    async def get_json(self, home: NodeHome, path: str) -> Any:
        return (await self.client.get(f"http://127.0.0.1:{home.api_port}{path}")).json()


@asynccontextmanager
async def open_node_network(
    base: Path,
    *,
    validators: int = 4,
    extra_config: str | Callable[[NodeHome], str] = ORACLE_OFF,
    genesis: dict[str, Any] | None = None,
    start: bool = True,
    observers: tuple[str, ...] = (),
) -> AsyncIterator[NodeNetwork]:
    """`validators` validator homes of the example genesis (or `genesis`), each with
    `extra_config` appended to its config.toml (text, or a function of the home) and
    allowing `observers`."""
    doc = genesis if genesis is not None else json.loads(GENESIS_DOC.read_text())
    homes = [NodeHome(base / f"v{i}", f"v{i}", i, log_level="warning") for i in range(validators)]
    for home in homes:
        home.extra_config = extra_config(home) if callable(extra_config) else extra_config
        home.observers = observers
        home.write(doc, [h.addr for h in homes if h is not home])
    async with httpx.AsyncClient(timeout=10) as client, trio.open_nursery() as nursery:
        net = NodeNetwork(homes, nursery, {}, {}, client)
        if start:
            for home in homes:
                await net.start(home)
        try:
            yield net
        finally:
            nursery.cancel_scope.cancel()


def tag_records_with_node(handler: logging.Handler) -> None:
    """Each record `handler` takes gets `node`: the name of the home whose node logged it
    (None: not a node's)."""

    def tag(record: logging.LogRecord) -> bool:
        record.node = NODE_NAME.get()
        return True

    handler.addFilter(tag)
