"""First-hop admission of signed re-observation requests: freshness, replays and the
per-signer budget under trio's MockClock, and on real libp2p hosts: a flood is cut at
the first hop (never relayed past the budget) and its publisher, and only it, is scored down."""

from __future__ import annotations

import itertools
from contextlib import AsyncExitStack

import pytest
import trio
import trio.testing

from bridge.observation import ReobserveRequest, SignedReobserveRequest, sign_reobserve_request
from node.bridge.admission import (
    MAX_REQUEST_AGE_MS,
    REQUEST_BURST,
    REQUEST_RATE_PER_S,
    RequestGate,
    get_max_seen,
)
from node.bridge.gossip import encode_message
from node.bridge.reobserve import ANSWER_BURST, ANSWER_RATE_PER_S, ASK_BURST, ASK_RATE_PER_S
from node.clock import wall_clock_ms
from node.p2p import HostConfig, Offence, P2PNode, open_p2p
from node.p2p.topics import BRIDGE
from tests.node.bridge.support import (
    CHAIN_ID,
    CONSENSUS_KEYS,
    NEW_CONSENSUS_KEY,
    get_genesis,
    get_pubkey,
    get_state_in_force,
    make_check,
)

GENESIS = get_genesis()
NET = GENESIS.chain_id
EPOCH_MS = 1_700_000_000_000
FLOODER = CONSENSUS_KEYS[0].public_key().public_bytes_raw()
VALIDATORS = {v.pubkey: v for v in GENESIS.validators}


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock()


def make_gate() -> RequestGate:
    """Both clocks follow trio's (MockClock in these tests)."""
    return RequestGate(
        lambda: VALIDATORS, now_ms=lambda: EPOCH_MS + int(trio.current_time() * 1000)
    )


def make_request(n: int, signer: int = 0, sent_ms: int | None = None) -> SignedReobserveRequest:
    when = EPOCH_MS + int(trio.current_time() * 1000) if sent_ms is None else sent_ms
    request = ReobserveRequest(CHAIN_ID, n.to_bytes(32, "big"), 0)
    return sign_reobserve_request(CONSENSUS_KEYS[signer], NET, request, when)


def test_an_honest_askers_rate_fits_the_budget_and_peers_answer_it() -> None:
    assert ASK_RATE_PER_S < REQUEST_RATE_PER_S <= ANSWER_RATE_PER_S
    assert ASK_BURST < REQUEST_BURST <= ANSWER_BURST


async def test_each_signer_has_a_budget_and_only_a_self_publishing_flooder_is_penalised(
    mock_clock: trio.testing.MockClock,
) -> None:
    gate = make_gate()
    for n in range(REQUEST_BURST):
        assert gate.admit("relay", "origin", make_request(n)) is True
    assert gate.admit("relay", "origin", make_request(REQUEST_BURST)) is False  # relayed: no fault
    assert gate.admit("origin", "origin", make_request(REQUEST_BURST + 1)) is Offence.INVALID
    assert gate.admit("relay", "origin", make_request(0, signer=1)) is True  # own budget
    mock_clock.jump(1 / REQUEST_RATE_PER_S)
    assert gate.admit("origin", "origin", make_request(REQUEST_BURST + 2)) is True  # refilled
    assert gate.admit("relay", "origin", b"a deposit attestation") is True  # not a request
    assert gate.counters == {"admitted": REQUEST_BURST + 2, "over_budget": 2}


async def test_budgets_are_the_set_in_forces_when_a_request_arrives(
    mock_clock: trio.testing.MockClock,
) -> None:
    """Validator 4, added by governance, gets a budget from the block that adds it;
    3, removed, and 2, jailed, lose theirs (a request by one of them got past the
    first-hop check just before the commit: dropped, nobody penalised)."""
    committed = [VALIDATORS]
    gate = RequestGate(lambda: committed[0],
                       now_ms=lambda: EPOCH_MS + int(trio.current_time() * 1000))  # fmt: skip

    def request(n: int, signer: int) -> SignedReobserveRequest:
        request = ReobserveRequest(CHAIN_ID, n.to_bytes(32, "big"), 0)
        when = EPOCH_MS + int(trio.current_time() * 1000)
        return sign_reobserve_request([*CONSENSUS_KEYS, NEW_CONSENSUS_KEY][signer], NET, request,
                                      when)  # fmt: skip

    assert [gate.admit("a", "a", request(1, i)) for i in (2, 3, 4)] == [True, True, False]
    assert set(gate.budgets) == {get_pubkey(2), get_pubkey(3)}
    committed[0] = get_state_in_force(GENESIS, jail=[2]).validators
    assert [gate.admit("a", "a", request(2, i)) for i in (2, 3, 4)] == [False, False, True]
    assert set(gate.budgets) == {get_pubkey(4)}
    for n in range(3, 2 + REQUEST_BURST):  # a full budget of its own
        assert gate.admit("a", "a", request(n, 4)) is True
    assert gate.admit("a", "a", request(99, 4)) is Offence.INVALID
    assert gate.counters == {"admitted": 2 + REQUEST_BURST, "outside_set": 3, "over_budget": 1}


async def test_replays_and_stale_requests_are_dropped_unpenalised_and_uncharged(
    mock_clock: trio.testing.MockClock,
) -> None:
    gate = make_gate()
    signed = make_request(1)
    assert gate.admit("a", "a", signed) is True
    for _ in range(3 * REQUEST_BURST):  # an outsider re-publishing a validator's request
        assert gate.admit("outsider", "outsider", signed) is False
    now_ms = EPOCH_MS + int(trio.current_time() * 1000)
    assert gate.admit("a", "a", make_request(2, sent_ms=now_ms - MAX_REQUEST_AGE_MS - 1)) is False
    assert gate.admit("a", "a", make_request(3, sent_ms=now_ms + MAX_REQUEST_AGE_MS + 1)) is False
    assert gate.admit("a", "a", make_request(4, sent_ms=now_ms - MAX_REQUEST_AGE_MS)) is True
    assert gate.counters == {"admitted": 2, "replayed": 3 * REQUEST_BURST, "stale": 2}
    for n in range(5, 5 + REQUEST_BURST - 2):  # the signer's budget was charged twice only
        assert gate.admit("a", "a", make_request(n)) is True


async def test_admitted_requests_are_forgotten_once_stale(
    mock_clock: trio.testing.MockClock,
) -> None:
    gate = make_gate()
    for n in range(REQUEST_BURST):
        gate.admit("a", "a", make_request(n))
    assert len(gate.seen) == REQUEST_BURST <= get_max_seen(1)
    mock_clock.jump(MAX_REQUEST_AGE_MS / 1000 + 1)
    assert gate.admit("a", "a", make_request(0)) is True  # same request, newly signed
    assert len(gate.seen) == 1


async def test_a_flood_stops_at_the_first_hop_and_costs_only_its_publisher() -> None:
    """a - b - c on real hosts: a publishes far more of one validator's signed requests
    than its budget; b relays only the budget's worth to c and bans a (the publisher);
    c, which b's relays reach within budget, holds nothing against b."""
    flood = 2 * REQUEST_BURST
    topics = [make_check(GENESIS).topic() for _ in range(3)]
    gate_b, gate_c = (t.admit.__self__ for t in topics[1:])  # type: ignore[union-attr]
    async with AsyncExitStack() as stack:
        nodes: list[P2PNode] = []
        for name, topic in zip("abc", topics, strict=True):
            config = HostConfig(key_seed=name.encode() * 32)
            nodes.append(await stack.enter_async_context(open_p2p(config, [topic])))
        a, b, c = nodes
        for left, right in itertools.pairwise(nodes):
            await right.connect(left.listen_addrs()[0])
        for node, peers in ((a, 1), (b, 2), (c, 1)):
            await node.wait_for_mesh(BRIDGE, peers)
        with trio.fail_after(20):
            for n in range(flood):
                if b.is_banned(a.peer_id):
                    break
                await a.publish(BRIDGE, encode_message(NET, make_request(n, 0, wall_clock_ms())))
            while not b.is_banned(a.peer_id):
                await trio.sleep(0.01)
        # b's own request after the flood: c has everything b relayed once it arrives.
        await b.publish(BRIDGE, encode_message(NET, make_request(0, 1, wall_clock_ms())))
        flooded = 0
        with trio.fail_after(10):
            async for delivery in c.messages(BRIDGE):
                assert isinstance(delivery.value, SignedReobserveRequest)
                if (
                    delivery.value.attestation.signer
                    != CONSENSUS_KEYS[0].public_key().public_bytes_raw()
                ):
                    break
                flooded += 1
        assert REQUEST_BURST <= gate_b.counters["admitted"] < flood
        assert gate_b.counters["over_budget"] >= 5  # a's score: burst - 25 * offences <= -100
        assert flooded == gate_c.counters["admitted"] - 1 <= gate_b.counters["admitted"]
        assert not c.is_banned(b.peer_id) and c.scores.get_score(b.peer_id) > 0
