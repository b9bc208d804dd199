"""External bridges' reports (node/bridge/api.py, external.py, gossip.py): the API
takes a registered bridge's report and gossips it, every validator that gets it attests
it and pools it as a watched deposit's; anything else is a typed refusal that attests,
pools and gossips nothing."""

from __future__ import annotations

import dataclasses
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from bridge.external import SignedExternalEvent, sign_external_event
from bridge.observation import SignedObservation, sign_observation
from clearing.collateral import CollateralCredit
from clearing.context import BlockContext
from clearing.errors import BadSignature
from clearing.genesis import parse_genesis
from clearing.state import initialize_state
from clearing.transition.block import process_block
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.api.errors import ApiError
from node.api.http import Request
from node.bridge.api import BridgeApi
from node.bridge.bridge_node import BridgeNode
from node.bridge.gossip import UnknownChain, encode_message
from node.p2p import Delivery
from node.p2p.topics import BRIDGE
from tests.node.bridge.support import (
    CONSENSUS_KEYS,
    get_genesis_doc,
    make_check,
    make_observation,
)
from tests.node.bridge.test_service import FakeP2P

BRIDGE_KEY = derive_ed25519_key("external-bridge")
STRANGER_KEY = derive_ed25519_key("stranger")
DOC = get_genesis_doc()
CHAIN = DOC["collateral"][0]["chain_id"]
OTHER_CHAIN = next(c["chain_id"] for c in DOC["collateral"] if c["chain_id"] != CHAIN)
DOC["external_bridges"] = [
    {"id": "gateway", "pubkey": "0x" + BRIDGE_KEY.public_key().public_bytes_raw().hex(),
     "chains": [CHAIN]},
]  # fmt: skip
GENESIS = parse_genesis(DOC)
NET = GENESIS.chain_id
GOSSIP = make_check(GENESIS)


def make_api(validator: int | None = 0) -> tuple[BridgeApi, BridgeNode, FakeP2P]:
    p2p = FakeP2P([])
    key = None if validator is None else CONSENSUS_KEYS[validator]
    ctx = SimpleNamespace(genesis=GENESIS, p2p=p2p, state=initialize_state(GENESIS),
                          validator_key=key)  # fmt: skip
    node = BridgeNode(ctx)  # type: ignore[arg-type]
    return BridgeApi(node), node, p2p


async def post(api: BridgeApi, body: bytes, content_type: str = "application/msgpack") -> Any:
    request = Request(
        "POST", "/v1/bridge/external-events", {}, {"content-type": content_type}, body
    )
    response = await api.post_external_event(request, {})
    assert response.status == 202
    return json.loads(response.body)


async def test_each_validator_attests_a_registered_bridges_deposit_to_a_quorum() -> None:
    observation = make_observation(GENESIS)
    event = sign_external_event(BRIDGE_KEY, NET, observation)
    nodes = []
    for validator in range(3):
        api, node, p2p = make_api(validator)
        answer = await post(api, event.encode())
        assert answer["deposit"]["deposit_nonce"] == observation.deposit_nonce
        assert answer["attested_by"] == "0x" + node_pubkey(validator).hex()
        kinds = [GOSSIP.decode(data) for data in p2p.published]
        assert [type(k) for k in kinds] == [SignedObservation, SignedExternalEvent]
        nodes.append(node)
    pool = nodes[0].credits
    for node in nodes[1:]:  # what gossip carries to the first node
        for attestation in node.credits.entries[observation.key][observation].values():
            pool.add(SignedObservation(observation, attestation))
    (credit,) = pool.get_ready_credits()
    assert isinstance(credit, CollateralCredit) and credit.observation == observation
    state = nodes[0].ctx.state
    result = process_block(state, BlockContext(1, GENESIS.genesis_time_ms, NET),
                           [encode_tx(credit), encode_tx(credit)])  # fmt: skip
    assert [r.code for r in result.tx_results] == ["ok", "DuplicateCredit"]
    api = BridgeApi(nodes[0])
    with pytest.raises(ApiError) as again:  # reported again after the credit: refused
        await post(api, json.dumps({"event": "0x" + event.encode().hex()}).encode(),
                   "application/json")  # fmt: skip
    assert (again.value.status, again.value.type) == (409, "DuplicateCredit")


@pytest.mark.parametrize(
    ("event", "status", "kind"),
    [
        (sign_external_event(STRANGER_KEY, NET, make_observation(GENESIS)), 401,
         "UnregisteredBridge"),
        (sign_external_event(BRIDGE_KEY, NET + 1, make_observation(GENESIS)), 401,
         "BadBridgeSignature"),
        (sign_external_event(BRIDGE_KEY, NET,
                             dataclasses.replace(make_observation(GENESIS), chain_id=OTHER_CHAIN)),
         422, "ChainNotAllowed"),
        (sign_external_event(BRIDGE_KEY, NET,
                             dataclasses.replace(make_observation(GENESIS), token=bytes(20))),
         422, "UnknownCollateral"),
    ],
)  # fmt: skip
async def test_refusals_are_typed_and_attest_nothing(event: Any, status: int, kind: str) -> None:
    api, node, p2p = make_api()
    with pytest.raises(ApiError) as refused:
        await post(api, event.encode())
    assert (refused.value.status, refused.value.type) == (status, kind), refused.value
    assert p2p.published == [] and node.credits.entries == {}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "kind"),
    [
        (b"\xc1garbage", "application/msgpack", 400, "DecodeError"),
        (b'{"event": "0x00"}', "application/json", 400, "DecodeError"),
        (b'{"event": 5}', "application/json", 400, "InvalidField"),
        (b"{}", "application/json", 400, "MissingField"),
        (b"x", "text/plain", 415, "UnsupportedMediaType"),
    ],
)
async def test_bad_bodies_are_typed(body: bytes, content_type: str, status: int, kind: str) -> None:
    api, _, p2p = make_api()
    with pytest.raises(ApiError) as refused:
        await post(api, body, content_type)
    assert (refused.value.status, refused.value.type) == (status, kind)
    assert p2p.published == []


async def test_a_node_that_is_not_a_validator_gossips_the_report_for_the_validators() -> None:
    api, node, p2p = make_api(validator=None)
    event = sign_external_event(BRIDGE_KEY, NET, make_observation(GENESIS))
    answer = await post(api, event.encode())
    assert (answer["attested_by"], answer["status"]) == (None, "gossiped")
    assert [GOSSIP.decode(data) for data in p2p.published] == [event]
    assert node.credits.entries == {}


async def test_a_validator_attests_a_gossiped_report_of_a_registered_bridge_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = sign_external_event(BRIDGE_KEY, NET, make_observation(GENESIS))
    stranger = sign_external_event(STRANGER_KEY, NET, make_observation(GENESIS, log_index=1))
    p2p = FakeP2P([Delivery(BRIDGE, "peer", e) for e in (stranger, good)])
    ctx = SimpleNamespace(genesis=GENESIS, p2p=p2p, state=initialize_state(GENESIS),
                          validator_key=CONSENSUS_KEYS[1])  # fmt: skip
    node = BridgeNode(ctx)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO):
        await node.receive()
    assert list(node.credits.entries) == [good.observation.key]
    (published,) = [GOSSIP.decode(data) for data in p2p.published]
    assert isinstance(published, SignedObservation) and published.observation == good.observation
    assert "not attested" in caplog.text and "is not registered" in caplog.text


def test_the_first_hop_checks_a_reports_signature_and_chain() -> None:
    event = sign_external_event(STRANGER_KEY, NET, make_observation(GENESIS))
    assert GOSSIP.decode(encode_message(NET, event)) == event  # registration: the state's
    forged = dataclasses.replace(event, signature=bytes(64))
    with pytest.raises(BadSignature):
        GOSSIP.decode(encode_message(NET, forged))
    elsewhere = dataclasses.replace(make_observation(GENESIS), chain_id=999)
    with pytest.raises(UnknownChain):
        GOSSIP.decode(encode_message(NET, sign_external_event(BRIDGE_KEY, NET, elsewhere)))


def node_pubkey(validator: int) -> bytes:
    return CONSENSUS_KEYS[validator].public_key().public_bytes_raw()


async def test_a_report_contradicting_what_the_validator_attested_is_refused() -> None:
    api, node, p2p = make_api()
    seen = make_observation(GENESIS)
    await node.send_deposit(sign_observation(CONSENSUS_KEYS[0], NET, seen))
    other = dataclasses.replace(seen, quanta=seen.quanta + 1)
    with pytest.raises(ApiError) as refused:
        await post(api, sign_external_event(BRIDGE_KEY, NET, other).encode())
    assert (refused.value.status, refused.value.type) == (409, "ObservationRefused")
    assert refused.value.details["deposit_nonce"] == seen.deposit_nonce
    assert len(p2p.published) == 1 and list(node.credits.entries[seen.key]) == [seen]
