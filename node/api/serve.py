"""Serving a node's HTTP API: `serve_api_of(config, node, metrics, store)` over any
`NodeInterface` (what `start_node` in node/startup/steps.py runs on either engine), and
`serve_node_api`, which first builds a `LocalNode` over a bare mempool and state (the
API tests' harness).

    api = await nursery.start(serve_api_of, config, node, metrics, store)
    ...after each committed block: api.publish_block(height, hash, root, time_ms, result_codes)

`task_status.started` receives the ApiApp (with `.port` and, when the operator listener
is on, `.operator_port` set to the bound ports, so a config with port 0 works in tests).
The operator listener answers only requests carrying the home's operator token; a home
made before the token existed gets one here, logged with its path.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable

import trio

from clearing.state import ClearingState
from node.api.http import get_bound_port
from node.api.node_interface import LocalNode, NodeInterface
from node.api.server import ApiApp, serve_api
from node.api.tiers import OPERATOR, PUBLIC, Listener
from node.config import NodeConfig
from node.keys import generate_operator_token, load_operator_token, save_operator_token
from node.liveness import CommitWatch
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.ports import get_port_taken_error
from node.storage import NodeStore
from node.txpool import TxPool

log = logging.getLogger(__name__)


async def serve_node_api(
    config: NodeConfig,
    get_state: Callable[[], ClearingState],
    mempool: Mempool,
    store: NodeStore | None,
    broadcast: Callable[[bytes], Awaitable[None]] | None,
    status_extra: Callable[[], dict[str, object]] | None = None,
    metrics: NodeMetrics | None = None,
    pool: TxPool | None = None,
    commits: CommitWatch | None = None,
    *,
    task_status: trio.TaskStatus[ApiApp] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the HTTP API of this node, over its own mempool, until cancelled."""
    if metrics is None and config.metrics.enabled:
        metrics = NodeMetrics(config.moniker)
    node = LocalNode(
        config.chain_id, config.moniker, mempool, get_state, store, broadcast, status_extra,
        metrics, pool, commits,
    )  # fmt: skip
    await serve_api_of(config, node, metrics, store, task_status=task_status)


async def serve_api_of(
    config: NodeConfig,
    node: NodeInterface,
    metrics: NodeMetrics | None,
    store: NodeStore | None,
    *,
    task_status: trio.TaskStatus[ApiApp] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the HTTP API over `node` until cancelled (does nothing if disabled)."""
    app = ApiApp(node, metrics=metrics if config.metrics.enabled else None, history_store=store)
    if not config.api.enabled:
        task_status.started(app)
        return
    api = config.api
    async with trio.open_nursery() as nursery:
        app.port = await _listen(
            nursery, app, config, PUBLIC, "api.listen_port", api.listen_host, api.listen_port
        )
        if api.operator_enabled:
            if not is_loopback(api.operator_listen_host):
                log.warning(
                    "the operator listener is on %s, not a loopback address: whoever reaches "
                    "it sees every block's transactions and every member's margin health",
                    api.operator_listen_host,
                )
            app.operator_port = await _listen(
                nursery, app, config, OPERATOR, "api.operator_listen_port",
                api.operator_listen_host, api.operator_listen_port,
                get_operator_token(config),
            )  # fmt: skip
        task_status.started(app)


async def _listen(
    nursery: trio.Nursery,
    app: ApiApp,
    config: NodeConfig,
    listener: Listener,
    key: str,
    host: str,
    port: int,
    token: str | None = None,
) -> int:
    """Serve `listener`'s routes on host:port in `nursery`; the bound port."""
    try:
        listeners = await nursery.start(
            lambda task_status: serve_api(
                app,
                host,
                port,
                max_body_bytes=config.api.max_body_bytes,
                listener=listener,
                token=token,
                task_status=task_status,
            )
        )
    except OSError as exc:  # taken since `clearnode start` probed it (two starts racing)
        raise get_port_taken_error(config, key, exc.strerror or str(exc)) from None
    return get_bound_port(listeners)


def get_operator_token(config: NodeConfig) -> str:
    """The home's operator token; a home `clearnode init` made before the token existed
    gets a new one (KeyFileError if the file is too open or not a token)."""
    path = config.operator_token_file
    if not path.exists():
        save_operator_token(path, generate_operator_token())
        log.info("wrote a new operator token", extra={"path": str(path)})
    return load_operator_token(path)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
