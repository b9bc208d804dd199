"""The p2p host's in-memory counters, read over real HTTP: /metrics and /v1/status."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import trio

from clearing.sandbox import Sandbox
from node.api.app import ApiApp, serve_api
from node.api.counters import expose_p2p_counters
from node.api.http import get_bound_port
from node.api.service import LocalNode
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.p2p import open_p2p
from node.txcheck import make_clearing_check
from tests.node.p2p.support import TOPICS, config

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


async def test_p2p_counters_are_served_in_metrics_and_status() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    metrics = NodeMetrics("counting")
    node = LocalNode(
        box.chain_id, "counting", Mempool(make_clearing_check(lambda: box.state)), lambda: box.state
    )
    node.status_extra = lambda: {"round": 7}
    app = ApiApp(node, metrics=metrics)
    async with open_p2p(config("counting"), TOPICS) as p2p, trio.open_nursery() as nursery:
        expose_p2p_counters(app, p2p)
        listeners = await nursery.start(
            lambda task_status: serve_api(
                app, "127.0.0.1", 0, max_body_bytes=4096, task_status=task_status
            )
        )
        base = f"http://127.0.0.1:{get_bound_port(listeners)}"
        async with httpx.AsyncClient(base_url=base) as client:
            p2p.counters["links", "closed_dead"] += 1
            p2p.counters["tx", "rejected"] += 2
            text = (await client.get("/metrics")).text
            status = (await client.get("/v1/status")).json()
            p2p.counters["links", "closed_dead"] += 1
            again = (await client.get("/metrics")).text
        nursery.cancel_scope.cancel()
    assert 'clearnode_p2p_events_total{outcome="closed_dead",scope="links"} 1.0' in text
    assert 'clearnode_p2p_events_total{outcome="rejected",scope="tx"} 2.0' in text
    assert 'clearnode_p2p_events_total{outcome="closed_dead",scope="links"} 2.0' in again
    assert status["round"] == 7 and status["height"] == box.state.height
    assert status["p2p"] == {
        "peer_id": p2p.peer_id,
        "peers": 0,
        "counters": {"links": {"closed_dead": 1}, "tx": {"rejected": 2}},
    }
