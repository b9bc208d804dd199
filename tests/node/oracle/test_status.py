"""GET /v1/oracle's body: the pool's observers, the last committed update and its clamps."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from clearing.context import Equivocation
from clearing.oracle import FreshnessRule, sign_price_observation
from clearing.transition.tx import encode_tx
from devnet.sandbox import Sandbox
from node.oracle.pool import PriceObservationPool
from node.oracle.status import OracleMetrics, OracleStatus

ROOT = Path(__file__).resolve().parents[3]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


def test_a_clamped_update_is_recorded_and_rendered() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = PriceObservationPool(lambda: box.state.validators)
    when = box.next_context().time_ms
    for key in box.validator_keys[:3]:
        pool.add(sign_price_observation(key, box.chain_id, when, {"BTC/0.001": 42_000_000}, {}))
    update = pool.compute_update(FreshnessRule.at(box.state, when))
    assert update is not None
    result = box.apply([encode_tx(update)])
    registry = CollectorRegistry()
    status = OracleStatus(box.genesis, OracleMetrics(registry))
    status.record_block(result.height, result)
    status.count_in()
    status.count_proposed()
    body = status.render(box.state, pool, when + 20_000)
    assert body["last_update_height"] == result.height
    assert body["flagged_clamps"] == [
        {"height": result.height, "kind": "index", "id": "BTC/0.001",
         "median": 42_000_000, "price": 54_000_000, "previous": 60_000_000},
    ]  # fmt: skip
    assert body["index_prices"]["BTC/0.001"] == 54_000_000  # type: ignore[index]
    observers = body["observers"]
    assert isinstance(observers, list) and len(observers) == 3
    assert not any(o["fresh"] for o in observers)  # not newer than the committed price time
    assert body["fresh_power"] == 0
    assert (body["total_power"], body["observations_in"], body["updates_proposed"]) == (40, 1, 1)
    text = generate_latest(registry).decode()
    assert 'clearnode_oracle_observations_total{direction="in"} 1.0' in text
    assert "clearnode_oracle_updates_proposed_total 1.0" in text


def test_the_observers_are_named_and_weighed_by_the_set_in_force() -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = PriceObservationPool(lambda: box.state.validators)
    when = box.next_context().time_ms
    for key in box.validator_keys[:2]:
        pool.add(sign_price_observation(key, box.chain_id, when, {"BTC/0.001": 42_000_000}, {}))
    jailed = box.validator_keys[1].public_key().public_bytes_raw()
    box.apply([], (Equivocation(jailed, box.state.height),))
    box.state.validators = dict(box.state.validators)
    del box.state.validators[box.validator_keys[0].public_key().public_bytes_raw()]
    body = OracleStatus(box.genesis).render(box.state, pool, when)
    observers = body["observers"]
    assert isinstance(observers, list)
    named = {o["validator"]: o["power"] for o in observers}
    assert named == {None: 0, "validator-1": 0}  # removed, jailed
    assert (body["total_power"], body["fresh_power"]) == (20, 0)
