"""The p2p host's in-memory counters, read over real HTTP: /metrics and /v1/status."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest

from bridge.loopback import get_free_port
from devnet.sandbox import Sandbox
from node.api.counters import expose_p2p_counters
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.api.tiers import OPERATOR
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.p2p import open_p2p
from node.p2p.genesis import OtherGenesisPeer
from node.txcheck import make_clearing_check
from tests.node.apiserver import serve_app
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS
from tests.node.nodenet import open_node_network
from tests.node.p2p.support import TOPICS, config, peer_id_of

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
    # a persistent peer where nothing listens
    away = f"/ip4/127.0.0.1/tcp/{get_free_port()}/p2p/{peer_id_of('away')}"
    async with open_p2p(config("counting", persistent_peers=(away,)), TOPICS) as p2p:
        expose_p2p_counters(app, p2p)
        async with serve_app(app, listener=OPERATOR) as client:
            p2p.counters["links", "closed_dead"] += 1
            p2p.counters["tx", "rejected"] += 2
            refused = OtherGenesisPeer("cometbft", "node 376f", "127.0.0.1:26666", "a", "b")
            for _ in range(3):  # one peer dialled three times: three refusals
                p2p.other_genesis.refuse(refused)
            text = (await client.get("/metrics")).text
            status = (await client.get("/v1/status")).json()
            p2p.counters["links", "closed_dead"] += 1
            again = (await client.get("/metrics")).text
    assert 'clearnode_p2p_events_total{outcome="closed_dead",scope="links"} 1.0' in text
    assert 'clearnode_p2p_events_total{outcome="rejected",scope="tx"} 2.0' in text
    assert 'clearnode_p2p_events_total{outcome="closed_dead",scope="links"} 2.0' in again
    assert 'clearnode_peers_other_genesis_total{layer="cometbft"} 3.0' in text
    assert status["round"] == 7 and status["height"] == box.state.height
    labels = f'address="{away}",layer="libp2p",peer="{peer_id_of("away")}"'
    link = f"clearnode_persistent_peer_up{{{labels}}} 0.0"
    assert link in text, [line for line in text.splitlines() if "persistent" in line]
    (away_link,) = status["p2p"].pop("persistent_peers")
    assert away_link["address"] == away and away_link["connected"] is False
    assert status["p2p"] == {
        "peer_id": p2p.peer_id,
        "peers": 0,
        "counters": {"links": {"closed_dead": 1}, "tx": {"rejected": 2}},
        "refused_other_genesis": {"cometbft": 3},
    }


@pytest.mark.slow
async def test_a_running_node_serves_its_p2p_counters(tmp_path: Path) -> None:
    async with open_node_network(tmp_path, extra_config=ORACLE_OFF + SHORT_TIMEOUTS) as net:
        await net.wait_for_height(2)
        home = net.homes[0]
        status = await net.get_json(home, "/v1/status")
        async with httpx.AsyncClient(timeout=10) as client:
            url = f"http://127.0.0.1:{home.operator_port}/metrics"
            text = (await client.get(url, headers=home.operator_headers)).text
    assert status["p2p"]["peers"] >= 1
    assert status["p2p"]["counters"]["consensus"]["published"] > 0
    assert 'clearnode_p2p_events_total{outcome="published",scope="consensus"}' in text
