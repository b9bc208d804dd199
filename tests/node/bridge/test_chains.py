"""A validator's chain duty on a real anvil: watch, attest (woken by the watcher's
commit, never by a timer), restart without missing or re-attesting what the ledger
settled; a wrong chain id stops only that chain."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.cursor import CursorStore
from bridge.devchain import DevnetChain, mine
from bridge.observation import SignedObservation
from bridge.vault import deposit_token
from clearing.attestation import Attestation
from clearing.genesis import parse_genesis
from clearing.transition.withdrawal import PayoutObservation
from node.bridge.chains import Attester, get_outbox_path, watch_chain
from node.config import BridgeChainConfig
from tests.node.bridge.support import (
    CHAIN_ID,
    CONSENSUS_KEYS,
    get_genesis_doc,
)

pytestmark = pytest.mark.chain
DEPTH = 2
GUARD_S = 30
"""How long (real seconds) a test waits for what it expects before it fails."""
SLOWED = 1_000


@pytest.fixture
def slow_clock() -> trio.testing.MockClock:
    """Trio's time a thousand times slower than real time: no timer of a second or more
    fires within GUARD_S, so what happens in a test was caused by an event."""
    return trio.testing.MockClock(rate=1 / SLOWED)


class Sent:
    """What the attest loop hands the node, and what the ledger has credited."""

    def __init__(self) -> None:
        self.deposits: list[SignedObservation] = []
        self.credited: set[tuple[int, bytes, int]] = set()
        self.arrived = trio.Event()

    async def send_deposit(self, signed: SignedObservation) -> None:
        self.deposits.append(signed)
        self.arrived.set()
        self.arrived = trio.Event()

    async def wait_for_deposits(self, count: int) -> None:
        while len(self.deposits) < count:
            await self.arrived.wait()

    async def send_payout(self, payout: PayoutObservation, attestation: Attestation) -> None:
        raise AssertionError("no payout happened")

    def attester(self, deployed: DevnetChain) -> Attester:
        genesis = parse_genesis(get_genesis_doc(deployed.tokens))
        return Attester(
            CONSENSUS_KEYS[0],
            genesis.chain_id,
            {t.key: t for t in genesis.collateral},
            self.credited.__contains__,
            lambda key: False,
            self.send_deposit,
            self.send_payout,
        )


def deposit(evm: Chain, deployed: DevnetChain, amount: int) -> None:
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(deployed.tokens["USDC"]))
    deposit_token(evm, vault, token, amount, bytes([5]) * 20, account_from_key(DEV_PRIVATE_KEY))
    mine(evm, DEPTH + 1)


def get_config(deployed: DevnetChain, chain_id: int = CHAIN_ID) -> BridgeChainConfig:
    return BridgeChainConfig("anvil", chain_id, deployed.url, "0x" + deployed.vault.hex(), DEPTH)


async def run_until_sent(
    sent: Sent, deployed: DevnetChain, data: Path, count: int, guard_s: float = GUARD_S
) -> None:
    """Watch and attest until `count` deposits are sent; `guard_s` in trio's time."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_chain, get_config(deployed), data, sent.attester(deployed), {})
        with trio.fail_after(guard_s):
            await sent.wait_for_deposits(count)
        nursery.cancel_scope.cancel()


async def test_the_watchers_commit_wakes_the_attest_loop(
    tmp_path: Path, chain: tuple[Chain, DevnetChain], slow_clock: trio.testing.MockClock
) -> None:
    """The attest loop starts on an empty outbox beside the watcher, which commits the
    deposit's block range, and that commit, not a timer, wakes the loop: with trio's
    time slowed, a poll of the outbox (or the watcher's own, 2 s) never comes round
    within the guard."""
    evm, deployed = chain
    deposit(evm, deployed, 1_000)
    sent = Sent()
    await run_until_sent(sent, deployed, tmp_path, 1, guard_s=GUARD_S / SLOWED)
    assert [s.observation.quanta for s in sent.deposits] == [1_000]


async def test_restart_neither_misses_nor_reattests_settled_deposits(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    deposit(evm, deployed, 1_000)
    deposit(evm, deployed, 2_000)
    first = Sent()
    await run_until_sent(first, deployed, tmp_path, 2)
    assert [s.observation.quanta for s in first.deposits] == [1_000, 2_000]

    # while stopped: the ledger credits the first deposit, a third one is made
    second = Sent()
    second.credited.add(first.deposits[0].observation.key)
    deposit(evm, deployed, 3_000)
    await run_until_sent(second, deployed, tmp_path, 2)
    assert second.deposits[0] == first.deposits[1]  # same bytes: re-gossip, not a new vote
    assert second.deposits[1].observation.quanta == 3_000
    store = CursorStore(get_outbox_path(tmp_path, get_config(deployed)))
    try:
        assert store.count_deposits(CHAIN_ID) == 3  # each log stored once
    finally:
        store.close()


async def test_a_chain_with_the_wrong_id_is_left_unwatched(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    _, deployed = chain
    sent = Sent()
    with trio.fail_after(30):
        await watch_chain(get_config(deployed, chain_id=999), tmp_path, sent.attester(deployed), {})
    assert sent.deposits == []
