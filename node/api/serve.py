"""One call for the node runtime: build the API over the node's parts and serve it.

    api = await nursery.start(serve_node_api, config, state_getter, mempool, store, broadcast)
    ...after each committed block: api.publish_block(height, hash, root, time_ms, result_codes)

`task_status.started` receives the ApiApp (with `.port` set to the bound port, so
a config with `listen_port = 0` works in tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from clearing.state import ClearingState
from node.api.app import ApiApp, serve_api
from node.api.http import get_bound_port
from node.api.service import LocalNode
from node.config import NodeConfig
from node.liveness import CommitWatch
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.ports import get_port_taken_error
from node.storage import NodeStore
from node.txpool import TxPool


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
    """Serve the HTTP API of this node until cancelled (does nothing if disabled)."""
    if metrics is None and config.metrics.enabled:
        metrics = NodeMetrics(config.moniker)
    node = LocalNode(
        config.chain_id, config.moniker, mempool, get_state, store, broadcast, status_extra,
        metrics, pool, commits,
    )  # fmt: skip
    app = ApiApp(node, metrics=metrics if config.metrics.enabled else None, history_store=store)
    if not config.api.enabled:
        task_status.started(app)
        return
    async with trio.open_nursery() as nursery:
        try:
            listeners = await nursery.start(
                lambda task_status: serve_api(
                    app,
                    config.api.listen_host,
                    config.api.listen_port,
                    max_body_bytes=config.api.max_body_bytes,
                    task_status=task_status,
                )
            )
        except OSError as exc:  # taken since `clearnode start` probed it (two starts racing)
            raise get_port_taken_error(
                config, "api.listen_port", exc.strerror or str(exc)
            ) from None
        app.port = get_bound_port(listeners)
        task_status.started(app)
