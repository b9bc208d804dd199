"""The bridge service's handling of equivocation: a peer's second content for a deposit
is logged with both and not pooled; this validator never gossips a second one itself."""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace

import pytest
import trio

from bridge.eip712 import get_address
from bridge.observation import InvalidAttestation, sign_observation
from bridge.payouts import sign_payout
from bridge.rotation import Rotation, compute_target_set, get_consensus_set, sign_rotation_message
from bridge.validators import EvmValidatorSet
from clearing.attestation import sign_attestation, verify_quorum_attestations
from clearing.state import ClearingState, initialize_state
from clearing.transition.tx import decode_tx
from clearing.withdrawal_expiry import EXPIRED_DOMAIN
from node.bridge.bridge_node import BridgeNode
from node.bridge.gossip import ExpiryAttestation, PayoutAttestation, encode_message
from node.p2p import Delivery
from node.p2p.topics import BRIDGE
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CHAIN_ID,
    CONSENSUS_KEYS,
    NEW_CONSENSUS_KEY,
    get_genesis,
    get_pubkey,
    get_state_in_force,
    make_expiry,
    make_observation,
    make_payout,
    make_record,
)

GENESIS = get_genesis()
NET = GENESIS.chain_id


class FakeP2P:
    """Records publications; serves the given deliveries, then ends."""

    def __init__(self, deliveries: list[Delivery]) -> None:
        self.published: list[bytes] = []
        self.send, self.receive = trio.open_memory_channel[Delivery](len(deliveries) + 1)
        for delivery in deliveries:
            self.send.send_nowait(delivery)
        self.send.close()

    async def publish(self, topic: str, data: bytes) -> None:
        assert topic == BRIDGE
        self.published.append(data)

    def messages(self, topic: str) -> trio.MemoryReceiveChannel[Delivery]:
        return self.receive


def make_node(
    deliveries: list[Delivery], state: ClearingState | None = None, validator: int | None = 0
) -> tuple[BridgeNode, FakeP2P]:
    """Validator `validator`'s (None: a full node's; 4: the fifth's) bridge service at
    `state` (genesis')."""
    p2p = FakeP2P(deliveries)
    key = None if validator is None else [*CONSENSUS_KEYS, NEW_CONSENSUS_KEY][validator]
    committed = initialize_state(GENESIS) if state is None else state
    ctx = SimpleNamespace(genesis=GENESIS, p2p=p2p, state=committed, validator_key=key)
    return BridgeNode(ctx), p2p  # type: ignore[arg-type]


def commit(node: BridgeNode, state: ClearingState) -> None:
    """What the node does when a block commits: its state, then its listeners."""
    node.ctx.state = state  # type: ignore[misc]
    node.on_commit(None, b"")  # type: ignore[arg-type]


async def test_a_validator_never_gossips_a_second_content_for_one_deposit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node, p2p = make_node([])
    first = make_observation(GENESIS)
    second = dataclasses.replace(first, quanta=6)
    await node.send_deposit(sign_observation(CONSENSUS_KEYS[0], NET, first))
    with caplog.at_level(logging.ERROR):
        await node.send_deposit(sign_observation(CONSENSUS_KEYS[0], NET, second))
    assert len(p2p.published) == 1 and list(node.credits.entries[first.key]) == [first]
    assert (
        "own observation not gossiped" in caplog.text and "quanta 5 kept, 6 refused" in caplog.text
    )


def test_a_credit_or_payout_is_proposed_once_the_proposal_is_dated_at_its_chain_block() -> None:
    """A proposal dated before the deposit's or payout's chain block leaves it out (the
    block would refuse it), and the first one dated at or after it carries it; the status
    counts the ones held back."""
    record = make_record(GENESIS)
    state = initialize_state(GENESIS)
    state.pending_withdrawals[(record.member, record.nonce)] = record
    node, _ = make_node([], state)
    deposit_s = state.time_ms // 1000 + 100  # a chain block 100 s after the last block
    observation = dataclasses.replace(make_observation(GENESIS), block_time_s=deposit_s)
    payout = dataclasses.replace(make_payout(record.nonce), block_time_s=deposit_s + 1)
    for key in CONSENSUS_KEYS:
        assert node.pool(sign_observation(key, NET, observation))
        assert node.pool(PayoutAttestation(payout, sign_payout(key, NET, payout)))
    assert node.propose(1, deposit_s * 1000 - 1) == []
    status = node.get_status()
    assert (status["credits_not_yet_due"], status["payouts_not_yet_due"]) == (1, 1)
    state.time_ms = deposit_s * 1000  # a block committed at the deposit's time
    status = node.get_status()
    assert (status["credits_not_yet_due"], status["payouts_not_yet_due"]) == (0, 1)
    (credit,) = node.propose(2, deposit_s * 1000)
    assert decode_tx(credit).observation == observation  # type: ignore[union-attr]
    proposed = node.propose(2, (deposit_s + 1) * 1000)
    assert [decode_tx(tx).observation for tx in proposed] == [observation, payout]  # type: ignore[union-attr]


async def test_a_peers_equivocation_is_logged_with_both_and_not_pooled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = make_observation(GENESIS)
    second = dataclasses.replace(first, member=bytes([8]) * 20)
    deliveries = [
        Delivery(BRIDGE, "relay", sign_observation(CONSENSUS_KEYS[1], NET, o))
        for o in (first, second)
    ]
    node, _ = make_node(deliveries)
    with caplog.at_level(logging.WARNING):
        await node.receive()
    assert list(node.credits.entries[first.key]) == [first]
    assert "validator equivocation relayed by relay" in caplog.text
    assert f"member 0x{first.member.hex()} kept, 0x{second.member.hex()} refused" in caplog.text


async def test_at_each_commit_the_pools_count_the_set_in_force() -> None:
    """Deposit, payout and expiry attestations of validators 0, 1 and 3 are a quorum of
    the genesis set; the block that removes 3 and adds 4 drops 3's (and its pending
    count), and 4's attestations complete each again: credits clearing accepts."""
    node, _ = make_node([])
    keys = [*CONSENSUS_KEYS, NEW_CONSENSUS_KEY]
    observation, payout, expiry = make_observation(GENESIS), make_payout(), make_expiry()

    def attest(index: int) -> None:
        node.pool(sign_observation(keys[index], NET, observation))
        node.pool(PayoutAttestation(payout, sign_payout(keys[index], NET, payout)))
        body = expiry.to_fields()
        node.pool(ExpiryAttestation(expiry, sign_attestation(keys[index], EXPIRED_DOMAIN, NET,
                                                             body)))  # fmt: skip

    def count_ready() -> list[int]:
        return [len(node.credits.get_ready_credits()), len(node.payouts.get_ready()),
                len(node.expiries.get_ready())]  # fmt: skip

    for index in (0, 1, 3):
        attest(index)
    assert count_ready() == [1, 1, 1]
    state = get_state_in_force(GENESIS)
    record = make_record(GENESIS)  # the one expiring: pending, so its attestations are kept
    state.pending_withdrawals[record.member, record.nonce] = record
    commit(node, state)
    assert count_ready() == [0, 0, 0]
    assert get_pubkey(3) not in node.credits.pending
    with pytest.raises(InvalidAttestation):
        attest(3)
    attest(4)
    (credit,) = node.credits.get_ready_credits()
    verify_quorum_attestations(state.validators, state.total_power, credit.attestations,
                               observation.signing_bytes(NET))  # fmt: skip
    assert count_ready() == [1, 1, 1]


async def test_a_validator_attests_only_while_the_set_in_force_holds_it_with_power(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fifth validator's node runs from genesis: it attests nothing (logged once)
    until the block that adds it, then attests; once jailed it stops again."""
    node, p2p = make_node([], validator=4)
    observations = [make_observation(GENESIS, log_index=i) for i in range(3)]
    with caplog.at_level(logging.INFO):
        for observation in observations[:2]:
            await node.send_deposit(sign_observation(NEW_CONSENSUS_KEY, NET, observation))
        assert p2p.published == []
        commit(node, get_state_in_force(GENESIS))
        await node.send_deposit(sign_observation(NEW_CONSENSUS_KEY, NET, observations[2]))
        assert len(p2p.published) == 1
        commit(node, get_state_in_force(GENESIS, jail=[4]))
        await node.send_deposit(sign_observation(NEW_CONSENSUS_KEY, NET, observations[0]))
    assert len(p2p.published) == 1
    assert caplog.text.count("not in the validator set in force") == 1
    assert caplog.text.count("bridge attestations from this validator: signing") == 1
    assert caplog.text.count("is jailed (power 0)") == 1


async def test_a_removed_validator_gossips_its_rotation_signature_and_no_attestation() -> None:
    """Removed with half of the vault's power: its rotation signature (made with a key
    the vault still trusts) is what the rotation lacks, so it is pooled and gossiped;
    its deposit attestation counts for nothing and is not."""
    removed = get_state_in_force(GENESIS, add=False, remove=(2, 3))
    node, p2p = make_node([], removed, validator=3)
    await node.send_deposit(sign_observation(CONSENSUS_KEYS[3], NET, make_observation(GENESIS)))
    assert p2p.published == []
    current = EvmValidatorSet.from_members(0, [(get_address(k), 10) for k in BRIDGE_KEYS])
    rotation = Rotation(CHAIN_ID, bytes(range(20)), current,
                        compute_target_set(current, get_consensus_set(removed)))  # fmt: skip
    assert rotation.target is not None
    await node.send_rotation(sign_rotation_message(rotation, BRIDGE_KEYS[3]))
    assert p2p.published == [encode_message(NET, sign_rotation_message(rotation, BRIDGE_KEYS[3]))]
    assert node.rotations.get_best((CHAIN_ID, bytes(range(20)))) is not None
