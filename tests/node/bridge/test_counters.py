"""The bridge topic's first-hop gate counters, read over real HTTP: /v1/bridge and /metrics."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from bridge.observation import ReobserveRequest, sign_reobserve_request
from clearing.state import initialize_state
from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.api.tiers import OPERATOR
from node.bridge.admission import MAX_REQUEST_AGE_MS, RequestGate
from node.bridge.api import BridgeApi
from node.bridge.bridge_node import BridgeNode
from node.bridge.service import expose_request_gate
from node.clock import wall_clock_ms
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.p2p import HostConfig, open_p2p
from node.p2p.topics import BRIDGE
from node.txcheck import make_clearing_check
from tests.node.apiserver import serve_app
from tests.node.bridge.support import (
    CHAIN_ID,
    CONSENSUS_KEYS,
    get_genesis,
    get_genesis_doc,
    make_check,
)

GENESIS = get_genesis()


def make_app() -> ApiApp:
    box = Sandbox.from_genesis_doc(copy.deepcopy(get_genesis_doc()))
    check = make_clearing_check(lambda: box.state)
    node = LocalNode(box.chain_id, "gate", Mempool(check), lambda: box.state)
    return ApiApp(node, metrics=NodeMetrics("gate"))


async def test_request_gate_counters_are_served_in_bridge_status_and_metrics() -> None:
    app = make_app()
    validators = initialize_state(GENESIS).validators
    gate = RequestGate(lambda: validators)
    topic = make_check(GENESIS).topic(gate)
    p2p_config = HostConfig(key_seed=bytes(32))
    async with open_p2p(p2p_config, [topic]) as p2p:
        ctx = SimpleNamespace(genesis=GENESIS, p2p=p2p, api=app, state=app.node.get_state(),
                              validator_key=None)  # fmt: skip
        node = BridgeNode(ctx)  # type: ignore[arg-type]
        app.add_routes(BridgeApi(node).routes())
        expose_request_gate(node, gate)
        request = ReobserveRequest(CHAIN_ID, bytes(32), 0)
        fresh = sign_reobserve_request(
            CONSENSUS_KEYS[0], GENESIS.chain_id, request, wall_clock_ms()
        )
        stale_ms = wall_clock_ms() - 2 * MAX_REQUEST_AGE_MS
        stale = sign_reobserve_request(CONSENSUS_KEYS[1], GENESIS.chain_id, request, stale_ms)
        admit = p2p.get_topic(BRIDGE).admit
        assert admit is not None
        assert [admit("a", "b", m) for m in (fresh, fresh, stale)] == [True, False, False]
        async with serve_app(app, listener=OPERATOR) as client:
            status = (await client.get("/v1/bridge")).json()
            text = (await client.get("/metrics")).text
    assert status["request_gate"] == {"admitted": 1, "replayed": 1, "stale": 1}
    assert status["reobserve"] is None  # not a validator here
    for verdict in ("admitted", "replayed", "stale"):
        assert f'clearnode_bridge_reobserve_requests_total{{verdict="{verdict}"}} 1.0' in text
