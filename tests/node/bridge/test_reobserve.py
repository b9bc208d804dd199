"""Re-observation: the asking schedule (backoff, cap, budget) under trio's MockClock,
the answer rate per origin, refusals, the request's first-hop checks on the bridge
topic, and, on a real anvil, answers and own-chain look-ups of a missed deposit."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
import trio
import trio.testing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.deposits import DepositEvent
from bridge.devchain import DevnetChain, mine, revert, snapshot
from bridge.observation import (
    AttestationEquivocation,
    ObservationPool,
    ReobserveRequest,
    SignedObservation,
    compute_observation,
    sign_observation,
    sign_reobserve_request,
)
from bridge.vault import deposit_token
from bridge.watcher import scan_pending
from bridge.wire import FORMAT_VERSION
from clearing.assets import CollateralKey, CollateralToken
from clearing.errors import BadSignature
from clearing.genesis import parse_genesis
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.bridge.chains import ChainLookup
from node.bridge.gossip import (
    GOSSIP_VERSION,
    KIND_REOBSERVE,
    MAX_REQUEST_BYTES,
    UnknownChain,
    UnknownValidator,
    encode_message,
)
from node.bridge.reobserve import (
    ANSWER_BURST,
    ANSWER_RATE_PER_S,
    ASK_BURST,
    ASK_RATE_PER_S,
    MAX_ASKS,
    MAX_LOGS_PER_KEY,
    MAX_ORIGINS,
    AlreadySigned,
    LookupFailed,
    NotFinal,
    Reobserver,
    TooSoon,
    UnwatchedChain,
)
from node.config import BridgeChainConfig
from records.codec import DecodeError, pack
from tests.node.bridge.network import DEPTH
from tests.node.bridge.support import (
    CHAIN_ID,
    CONSENSUS_KEYS,
    get_genesis,
    get_genesis_doc,
    make_check,
    make_observation,
)

GENESIS = get_genesis()
NET = GENESIS.chain_id
CHECK = make_check(GENESIS)
ME = CONSENSUS_KEYS[3]
AFTER_S = 1.0
TokenMap = dict[CollateralKey, CollateralToken]


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    """Still unless jumped: chain reads take real time, timeouts never fire."""
    return trio.testing.MockClock()


@dataclasses.dataclass
class Sent:
    """The node a Reobserver under test runs with: what it published, signed and
    penalised (its signed deposits go to `pool`; the ledger credits nothing)."""

    pool: ObservationPool
    requests: list[tuple[float, ReobserveRequest]] = dataclasses.field(default_factory=list)
    deposits: list[SignedObservation] = dataclasses.field(default_factory=list)
    penalised: list[str] = dataclasses.field(default_factory=list)

    async def send_request(self, request: ReobserveRequest) -> None:
        self.requests.append((trio.current_time(), request))

    async def send_deposit(self, signed: SignedObservation) -> None:
        self.pool.add(signed)
        self.deposits.append(signed)

    def is_credited(self, key: tuple[int, bytes, int]) -> bool:
        return False

    def penalize(self, peer: str) -> None:
        self.penalised.append(peer)


def make_pool() -> ObservationPool:
    return ObservationPool(NET, {v.pubkey: v for v in GENESIS.validators})


def make_reobserver(
    pool: ObservationPool, lookups: dict[int, ChainLookup] | None = None
) -> tuple[Reobserver, Sent]:
    sent = Sent(pool)
    reobserver = Reobserver(pool, ME.public_key().public_bytes_raw(), lookups or {}, AFTER_S, sent)
    return reobserver, sent


def pool_stuck(pool: ObservationPool, log_index: int = 0, signers: int = 2) -> None:
    """A deposit attested by the first `signers` validators (2 of 4: below quorum)."""
    for key in CONSENSUS_KEYS[:signers]:
        pool.add(sign_observation(key, NET, make_observation(GENESIS, log_index=log_index)))


async def run_for(reobserver: Reobserver, seconds: float) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reobserver.ask_forever)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()


async def test_a_stuck_deposit_is_asked_with_doubling_pauses_at_most_max_asks_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pool = make_pool()
    pool_stuck(pool)
    reobserver, sent = make_reobserver(pool)
    await run_for(reobserver, 300)
    times = [t for t, _ in sent.requests]
    assert len(times) == MAX_ASKS
    first_seen = AFTER_S / 4  # the first tick saw it stuck
    assert times[0] == first_seen + AFTER_S
    assert [b - a for a, b in itertools.pairwise(times)] == [2 * AFTER_S * 2**n for n in range(5)]
    observation = make_observation(GENESIS)
    assert {r for _, r in sent.requests} == {
        ReobserveRequest(CHAIN_ID, observation.tx_hash, observation.log_index)
    }
    assert reobserver.counters == {"asked": MAX_ASKS}


async def test_asking_stops_once_signed_or_at_quorum_and_the_key_is_forgotten(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pool = make_pool()
    pool_stuck(pool, log_index=0)
    pool_stuck(pool, log_index=1)
    reobserver, sent = make_reobserver(pool)
    await run_for(reobserver, 2 * AFTER_S)
    assert len(sent.requests) == 2
    pool.add(sign_observation(ME, NET, make_observation(GENESIS, log_index=0)))  # signed
    pool.add(sign_observation(CONSENSUS_KEYS[2], NET, make_observation(GENESIS, log_index=1)))
    assert reobserver.get_stuck_keys() == []
    await run_for(reobserver, 100)
    assert len(sent.requests) == 2
    assert reobserver.schedule.first_seen == {} and reobserver.schedule.asks == {}


async def test_asks_stay_within_the_budget_and_the_rest_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pool = make_pool()
    stuck = ASK_BURST + 10
    for log_index in range(stuck):
        pool_stuck(pool, log_index=log_index)
    reobserver, sent = make_reobserver(pool)
    await run_for(reobserver, AFTER_S * 1.5)
    assert len(sent.requests) == ASK_BURST
    await run_for(reobserver, 10 / ASK_RATE_PER_S)  # due again: keys asked once wait
    assert [r.log_index for _, r in sent.requests] == list(range(stuck))


def test_requests_name_the_pooled_logs_of_a_key_the_most_attested_first() -> None:
    pool = make_pool()
    honest = make_observation(GENESIS)
    for key in CONSENSUS_KEYS[1:3]:
        pool.add(sign_observation(key, NET, honest))
    forged = [dataclasses.replace(honest, tx_hash=bytes([n]) * 32) for n in range(1, 6)]
    pool.add(sign_observation(CONSENSUS_KEYS[0], NET, forged[0]))
    for other in forged[1:]:  # the pool keeps one content per validator and key
        with pytest.raises(AttestationEquivocation):
            pool.add(sign_observation(CONSENSUS_KEYS[0], NET, other))
    reobserver, _ = make_reobserver(pool)
    (key,) = reobserver.get_stuck_keys()
    requests = reobserver.get_requests(key)
    assert len(requests) == 2 <= MAX_LOGS_PER_KEY
    assert requests == [
        ReobserveRequest(CHAIN_ID, honest.tx_hash, honest.log_index),
        ReobserveRequest(CHAIN_ID, forged[0].tx_hash, forged[0].log_index),
    ]


async def test_an_unexpected_lookup_error_is_a_refusal_not_a_crash() -> None:
    class BrokenLookup:
        timeout_s = 1.0

        def reobserve(self, request: ReobserveRequest) -> SignedObservation:
            raise KeyError("logIndex")

    lookups = {CHAIN_ID: BrokenLookup()}
    reobserver, sent = make_reobserver(make_pool(), lookups)  # type: ignore[arg-type]
    assert await reobserver.reobserve_logged(ReobserveRequest(CHAIN_ID, bytes(32), 0)) is None
    assert reobserver.counters == {"LookupFailed": 1} and sent.deposits == []


async def test_a_flooding_origin_is_scored_down_and_others_are_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reobserver, sent = make_reobserver(make_pool())
    request = ReobserveRequest(CHAIN_ID, bytes(32), 0)
    for _ in range(ANSWER_BURST + 3):
        reobserver.receive("mallory", request)
    reobserver.receive("honest", request)
    assert sent.penalised == ["mallory"] * 3
    assert reobserver.counters == {"flooded": 3}
    await trio.sleep(1)  # the bucket refills
    reobserver.receive("mallory", request)
    assert sent.penalised == ["mallory"] * 3
    await trio.sleep(ANSWER_BURST / ANSWER_RATE_PER_S)
    for origin in range(MAX_ORIGINS):  # idle origins' budgets are forgotten, not kept forever
        reobserver.receive(f"peer-{origin}", request)
    assert len(reobserver.answer_budgets) <= MAX_ORIGINS


def make_lookup(tmp_path: Path, url: str) -> ChainLookup:
    config = BridgeChainConfig("c", CHAIN_ID, url, "0x" + "11" * 20, 2)
    return ChainLookup(config, tmp_path / "c.sqlite3", {}, ME, NET)


async def test_refusals_change_nothing(tmp_path: Path) -> None:
    pool = make_pool()
    pool_stuck(pool)
    mine = make_observation(GENESIS, log_index=4)
    pool.add(sign_observation(ME, NET, mine))
    lookup = make_lookup(tmp_path, "http://127.0.0.1:1")  # nothing listens there
    reobserver, sent = make_reobserver(pool, {CHAIN_ID: lookup})
    before = {k: dict(v) for k, v in pool.entries.items()}
    with pytest.raises(UnwatchedChain):
        await reobserver.reobserve(ReobserveRequest(31338, bytes(32), 0))
    with pytest.raises(AlreadySigned):
        await reobserver.reobserve(ReobserveRequest(CHAIN_ID, mine.tx_hash, mine.log_index))
    with pytest.raises(LookupFailed, match=r"127\.0\.0\.1|Connection"):
        await reobserver.reobserve(ReobserveRequest(CHAIN_ID, bytes(32), 0))
    assert await reobserver.reobserve_logged(ReobserveRequest(CHAIN_ID, bytes(32), 0)) is None
    assert reobserver.counters == {"TooSoon": 1}  # the same log is not looked up again at once
    assert sent.deposits == [] and {k: dict(v) for k, v in pool.entries.items()} == before
    reobserver.close()


def test_a_validators_signed_request_passes_the_first_hop_and_round_trips() -> None:
    signed = sign_reobserve_request(ME, NET, ReobserveRequest(CHAIN_ID, bytes([3]) * 32, 7), 5)
    assert len(signed.encode()) <= MAX_REQUEST_BYTES
    assert CHECK.decode(encode_message(NET, signed)) == signed


def test_bad_requests_are_refused_at_the_first_hop() -> None:
    def wrap(body: bytes) -> bytes:
        return pack([GOSSIP_VERSION, NET, KIND_REOBSERVE, body])

    def sign(key: Ed25519PrivateKey, chain_id: int = CHAIN_ID, network: int = NET) -> bytes:
        request = ReobserveRequest(chain_id, bytes(32), 0)
        return encode_message(NET, sign_reobserve_request(key, network, request, 5))

    with pytest.raises(UnknownChain):
        CHECK.decode(sign(ME, chain_id=999))
    with pytest.raises(UnknownValidator):  # a full node or an outsider cannot ask (ignored)
        CHECK.decode(sign(derive_ed25519_key("outsider")))
    with pytest.raises(BadSignature):  # signed for another network
        CHECK.decode(sign(ME, network=NET + 1))
    with pytest.raises(DecodeError, match="bytes >"):
        CHECK.decode(wrap(b"x" * (MAX_REQUEST_BYTES + 1)))
    with pytest.raises(DecodeError, match="version 1 is not 2"):  # the unsigned form
        CHECK.decode(wrap(pack([FORMAT_VERSION, CHAIN_ID, bytes(32), 0])))


def make_deposit(
    evm: Chain, deployed: DevnetChain, nth: int = 0
) -> tuple[ReobserveRequest, DepositEvent]:
    """The vault's `nth` deposit, not final yet, and the request naming it."""
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    deposit_token(evm, vault, token, 7_000, bytes([5]) * 20, account_from_key(DEV_PRIVATE_KEY))
    event = scan_pending(evm, deployed.vault, 0, evm.get_block_number())[nth]
    return ReobserveRequest(CHAIN_ID, event.tx_hash, event.log_index), event


def make_chain_lookup(tmp_path: Path, deployed: DevnetChain) -> tuple[ChainLookup, TokenMap]:
    tokens = {t.key: t for t in parse_genesis(get_genesis_doc(deployed.tokens)).collateral}
    config = BridgeChainConfig("anvil", CHAIN_ID, deployed.url, "0x" + deployed.vault.hex(), DEPTH)
    return ChainLookup(config, tmp_path / "anvil.sqlite3", tokens, ME, NET), tokens


@pytest.mark.chain
async def test_a_request_is_answered_only_for_a_final_deposit_on_the_chain(
    tmp_path: Path, chain: tuple[Chain, DevnetChain], mock_clock: trio.testing.MockClock
) -> None:
    evm, deployed = chain
    request, event = make_deposit(evm, deployed)
    lookup, tokens = make_chain_lookup(tmp_path, deployed)
    pool = make_pool()
    reobserver, sent = make_reobserver(pool, {CHAIN_ID: lookup})
    with pytest.raises(NotFinal, match="above final"):
        await reobserver.reobserve(request)
    with pytest.raises(TooSoon):
        await reobserver.reobserve(request)
    mine(evm, DEPTH + 1)
    mock_clock.jump(AFTER_S)
    with pytest.raises(NotFinal, match="no receipt"):
        await reobserver.reobserve(ReobserveRequest(CHAIN_ID, bytes([9]) * 32, 0))
    with pytest.raises(NotFinal, match="no vault deposit"):
        await reobserver.reobserve(ReobserveRequest(CHAIN_ID, event.tx_hash, 9))
    before = snapshot(evm)  # a deposit mined, made final, then orphaned by a reorg
    orphan, _ = make_deposit(evm, deployed, nth=1)
    mine(evm, DEPTH + 1)
    revert(evm, before)
    with pytest.raises(NotFinal, match="orphaned"):
        await reobserver.reobserve(orphan)
    assert sent.deposits == [] and pool.entries == {}

    signed = await reobserver.reobserve(request)
    assert signed.is_valid(NET) and signed.observation == compute_observation(event, tokens)
    assert sent.deposits == [signed]
    mock_clock.jump(AFTER_S)
    with pytest.raises(AlreadySigned):
        await reobserver.reobserve(request)
    reobserver.close()


@pytest.mark.chain
async def test_a_missed_deposit_is_found_on_the_own_chain_when_stuck(
    tmp_path: Path, chain: tuple[Chain, DevnetChain], mock_clock: trio.testing.MockClock
) -> None:
    evm, deployed = chain
    request, event = make_deposit(evm, deployed)
    mine(evm, DEPTH + 1)
    lookup, tokens = make_chain_lookup(tmp_path, deployed)
    observation = compute_observation(event, tokens)
    pool = make_pool()
    for key in CONSENSUS_KEYS[:2]:
        pool.add(sign_observation(key, NET, observation))
    reobserver, sent = make_reobserver(pool, {CHAIN_ID: lookup})
    await reobserver.ask_due()  # first seen stuck
    mock_clock.jump(AFTER_S * 0.99)
    await reobserver.ask_due()
    assert sent.requests == [] and sent.deposits == []
    mock_clock.jump(AFTER_S * 0.01)
    await reobserver.ask_due()
    assert [s.observation for s in sent.deposits] == [observation]
    assert [r for _, r in sent.requests] == [request]  # peers are asked too
    assert [c.observation for c in pool.get_ready_credits()] == [observation]
    assert reobserver.get_stuck_keys() == []
    reobserver.close()
