"""One node's bridge state: the pools, its own messages until the ledger settles them,
what it proposes, and what its chain duties (chain_duties.py) read and fill.

The validator set is the one in force (signers.py): the pools follow the committed
state's after every commit, and a validator signs only while that set lists its
consensus key with power (and, for EVM signatures, its bridge key's address), so a
validator governance adds signs from the block that adds it and one removed or
jailed stops, without a restart.

The proposal source puts every CollateralCredit, WithdrawalPaid and
WithdrawalExpired that carries a quorum and the committed state has not settled
first in this node's proposals;
the other validators check them like any transaction, so this changes no rule.
Own messages are re-gossiped until the ledger settles them, `REGOSSIP_S` after they
were sent and then ever more sparsely (`OwnMessage`): a peer that was down or not yet
in the mesh still gets them, and a network slow to commit them is not flooded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from bridge.external import ExternalEventError, SignedExternalEvent
from bridge.observation import (
    AttestationEquivocation,
    InvalidAttestation,
    ObservationPool,
    ReobserveRequest,
    SignedObservation,
    SignedReobserveRequest,
    sign_observation,
    sign_reobserve_request,
)
from bridge.rotation import RotationSignature, get_consensus_set
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalError, WithdrawalSignature
from clearing.attestation import Attestation
from clearing.collateral import (
    CollateralCredit,
    CollateralObservation,
    is_chain_event_due,
    is_credited,
)
from clearing.errors import ClearingError
from clearing.state import ClearingState
from clearing.transition.tx import encode_tx
from clearing.transition.withdrawal import PayoutObservation, WithdrawalPaid
from clearing.withdrawal_expiry import ExpiryObservation
from node.bridge.admission import RequestGate
from node.bridge.external import check_external_event
from node.bridge.gossip import ExpiryAttestation, PayoutAttestation, PooledMessage, encode_message
from node.bridge.pools import ExpiryPool, PayoutPool, RotationBook, WithdrawalBook, WithdrawalKey
from node.bridge.reobserve import Reobserver
from node.bridge.signers import OwnKeys
from node.bridge.vault_sets import VaultSetStatus, get_known_set
from node.clock import wall_clock_ms
from node.committed import CommittedBlock
from node.p2p import MessageTooLarge, Offence
from node.p2p.topics import BRIDGE
from node.services import NodeContext
from records.codec import DecodeError

log = logging.getLogger(__name__)
REGOSSIP_S = 2.0
MAX_REGOSSIP_S = 16.0
MAX_PER_PROPOSAL = 256
OwnKey = tuple[object, ...]


def is_due(tx: CollateralCredit | WithdrawalPaid, time_ms: int) -> bool:
    """Whether a block of time `time_ms` may take `tx` in: not before its chain block."""
    return is_chain_event_due(tx.observation.block_time_s, time_ms)


def count_not_yet_due(ready: Sequence[CollateralCredit | WithdrawalPaid], time_ms: int) -> int:
    """Of `ready`, those a block of time `time_ms` would refuse, their chain block later."""
    return sum(not is_due(tx, time_ms) for tx in ready)


@dataclass
class OwnMessage:
    """One of this validator's messages until the ledger settles it, and when it is due to
    be gossiped again: REGOSSIP_S after it was sent, then at doubling intervals up to
    MAX_REGOSSIP_S. Every 2 s for all of them was most of a starting network's gossip:
    until the first block settles them, each validator re-sends its attestations of every
    deposit (one validator of a starved devnet published 210 bridge messages in its first
    40 s, against 83 of consensus), on the links and CPUs its consensus needs; there the
    first block then took over 90 s in 2 runs of 6."""

    data: bytes
    due: float
    interval: float = REGOSSIP_S

    @classmethod
    def sent_at(cls, data: bytes, now: float) -> OwnMessage:
        return cls(data, now + REGOSSIP_S)

    def resent_at(self, now: float) -> None:
        self.interval = min(2 * self.interval, MAX_REGOSSIP_S)
        self.due = now + self.interval


class WatcherView(Protocol):
    """A watched chain's reader as GET /v1/bridge shows it (bridge.watcher.Watcher)."""

    def to_json(self) -> dict[str, object]: ...


class BridgeNode:
    """One node's bridge state: pools, own messages, and what consensus asks of it."""

    def __init__(
        self, ctx: NodeContext, bridge_key: bytes | None = None, rotation_grace_blocks: int = 0
    ) -> None:
        self.ctx = ctx
        self.network_chain_id = ctx.genesis.chain_id
        validators = ctx.state.validators  # the set in force (a restart restored it)
        self.credits = ObservationPool(self.network_chain_id, validators)
        self.payouts = PayoutPool(validators)
        self.expiries = ExpiryPool(validators)
        self.keys: OwnKeys | None = None  # validators only
        if ctx.validator_key is not None:
            pubkey = ctx.validator_key.public_key().public_bytes_raw()
            self.keys = OwnKeys(pubkey, bridge_key, lambda: ctx.state, rotation_grace_blocks)
        self.vault_sets: dict[int, VaultSetStatus] = {}  # watched chains, by EVM chain id
        self.withdrawals = WithdrawalBook(self.get_consensus_set, self.get_known_set)
        self.rotations = RotationBook(self.get_consensus_set, self.get_known_set)
        # (chain name, "signed" or "rotated"): counted where a validator watches chains
        self.rotation_counters: dict[tuple[str, str], int] = {}
        self.own: dict[OwnKey, OwnMessage] = {}
        self.watchers: dict[str, WatcherView] = {}  # watched chains, by name
        self.reobserver: Reobserver | None = None  # validators only
        self.request_gate: RequestGate | None = None  # the bridge topic's, once served
        self.committed = trio.Event()

    # -- what the ledger has settled ----------------------------------------

    def is_credited(self, key: tuple[int, bytes, int]) -> bool:
        """Deposit ``key`` (chain id, vault, deposit nonce) is settled by the ledger."""
        return is_credited(self.ctx.state, key)

    def is_cleared(self, key: WithdrawalKey) -> bool:
        """Debited and then cleared by a WithdrawalPaid or refunded by a WithdrawalExpired."""
        member = self.ctx.state.members.get(key[0])
        return (
            member is not None
            and key[1] in member.used_nonces
            and key not in self.ctx.state.pending_withdrawals
        )

    def is_rotated(self, chain_id: int, epoch: int) -> bool:
        """The vault of `chain_id` has left `epoch`, or no longer needs a rotation."""
        status = self.vault_sets.get(chain_id)
        if status is None or status.current is None:
            return False
        return status.current.epoch > epoch or status.target is None

    def is_settled(self, key: OwnKey) -> bool:
        kind, subject = key[0], key[1]
        if kind == "credit":
            return self.is_credited(subject)  # type: ignore[arg-type]
        if kind == "rotation":
            return self.is_rotated(subject, key[2])  # type: ignore[arg-type]
        return self.is_cleared(subject)  # type: ignore[arg-type]

    # -- the validator sets ----------------------------------------------------

    def can_attest(self) -> bool:
        """This node is a validator the set in force holds with power."""
        return self.keys is not None and self.keys.can_attest()

    def get_consensus_set(self) -> list[tuple[bytes, int]]:
        return get_consensus_set(self.ctx.state)

    def get_known_set(self, chain_id: int, vault: bytes) -> EvmValidatorSet | None:
        return get_known_set(self.vault_sets, chain_id, vault)

    def get_vault_set(self, chain_id: int) -> tuple[bytes, EvmValidatorSet] | None:
        status = self.vault_sets.get(chain_id)
        if status is None or status.current is None:
            return None
        return status.vault, status.current

    # -- what the API reads (api.BridgeView) -------------------------------------

    def get_state(self) -> ClearingState:
        return self.ctx.state

    def get_status(self) -> dict[str, object]:
        """This node's chain watchers and bridge pools (GET /v1/bridge)."""
        chains = {name: watcher.to_json() for name, watcher in sorted(self.watchers.items())}
        vaults = {status.name: status.to_json() for _, status in sorted(self.vault_sets.items())}
        reobserver, gate = self.reobserver, self.request_gate
        credits, payouts = self.credits.get_ready_credits(), self.payouts.get_ready()
        time_ms = self.ctx.state.time_ms
        return {
            "chains": chains,
            "height": self.ctx.state.height,
            "deposits_pooled": len(self.credits.entries),
            "credits_ready": len(credits),
            # ready, their chain block dated after the last block: a chain's clock ahead
            "credits_not_yet_due": count_not_yet_due(credits, time_ms),
            "payouts_pooled": len(self.payouts.entries),
            "payouts_ready": len(payouts),
            "payouts_not_yet_due": count_not_yet_due(payouts, time_ms),
            "expiries_pooled": len(self.expiries.entries),
            "expiries_ready": len(self.expiries.get_ready()),
            "withdrawals_signed": len(self.withdrawals.entries),
            # each watched vault's validator set: in_sync, rotating or unknown, epoch
            "vaults": vaults,
            "rotations_pooled": len(self.rotations.entries),
            "own_unsettled": len(self.own),
            # validators: asked, signed, flooded, dropped, and refusals by type
            "reobserve": None if reobserver is None else dict(reobserver.counters),
            # re-observation requests at the first hop: admitted, stale, replayed, over_budget
            "request_gate": None if gate is None else dict(gate.counters),
        }

    # -- pooling -------------------------------------------------------------

    def pool(self, message: PooledMessage) -> bool:
        """Add a checked message to its pool; True when it is new."""
        if isinstance(message, SignedObservation):
            return self.credits.add(message)
        if isinstance(message, PayoutAttestation):
            return self.payouts.add(message)
        if isinstance(message, ExpiryAttestation):
            return self.expiries.add(message)
        if isinstance(message, RotationSignature):
            return self.rotations.add(message)
        return self.withdrawals.add(message)

    async def receive(self) -> None:
        """Pools what peers gossip (each message already checked at the first hop)."""
        async for delivery in self.ctx.p2p.messages(BRIDGE):
            if isinstance(delivery.value, SignedExternalEvent):
                await self.receive_external(delivery.sender, delivery.value)
                continue
            if isinstance(delivery.value, SignedReobserveRequest):
                if self.reobserver is not None:
                    self.reobserver.receive(delivery.sender, delivery.value.request)
                continue
            try:
                self.pool(delivery.value)  # type: ignore[arg-type]
            except AttestationEquivocation as exc:
                # Not the forwarder's fault: it relayed a valid signature, and may never
                # have seen the other one. The two signed contents are the evidence.
                log.warning("validator equivocation relayed by %s: %s", delivery.sender, exc)
            except (InvalidAttestation, WithdrawalError) as exc:
                log.info("bridge message from %s not pooled: %s", delivery.sender, exc)

    async def send_own(
        self, key: OwnKey, message: PooledMessage, *, needs_power: bool = True
    ) -> None:
        """Pool, remember until settled, and gossip one of this validator's messages;
        never one its own pool refuses (a second, different observation of a deposit
        it has attested; beyond its uncredited-deposit limit, where re-observation of
        the stuck deposit signs it again later), nor, when it `needs_power`, one of a
        validator the set in force does not hold with power (logged once per change)."""
        if needs_power and not self.can_attest():
            return
        try:
            self.pool(message)
        except (InvalidAttestation, WithdrawalError) as exc:  # e.g. equivocation, over limit
            log.error("own observation not gossiped: %s", exc)
            return
        await self._gossip_own(key, encode_message(self.network_chain_id, message))

    async def send_deposit(self, signed: SignedObservation) -> None:
        await self.send_own(("credit", signed.observation.key), signed)

    async def relay_external(
        self, event: SignedExternalEvent, observation: CollateralObservation
    ) -> SignedObservation | None:
        """Gossip an external bridge's report the API took (checked by the caller), so
        every validator checks and attests it; returns this validator's attestation
        (None on a node that is not a validator). Raises ``InvalidAttestation`` as
        ``attest_external`` does, before gossiping anything."""
        signed = None
        if self.can_attest():
            signed = await self.attest_external(observation)
        await self._publish(encode_message(self.network_chain_id, event))
        return signed

    async def attest_external(self, observation: CollateralObservation) -> SignedObservation:
        """This validator's attestation of a deposit a registered external bridge reported
        (checked by the caller), pooled and gossiped like a watched deposit's; raises
        ``InvalidAttestation`` when the pool refuses it (a different observation of the
        same deposit attested before, or too many uncredited deposits)."""
        assert self.ctx.validator_key is not None
        signed = sign_observation(self.ctx.validator_key, self.network_chain_id, observation)
        if self.pool(signed):
            key = ("credit", observation.key)
            await self._gossip_own(key, encode_message(self.network_chain_id, signed))
        return signed

    async def receive_external(self, sender: str, event: SignedExternalEvent) -> None:
        """A report gossip brought (its signature checked at the first hop): a validator
        attests it if its committed state registers the bridge for that chain. A node a
        block behind the registration drops it (logged): the bridge reports again."""
        if not self.can_attest():
            return
        try:
            observation = check_external_event(self.ctx.state, event)
            await self.attest_external(observation)
        except (ExternalEventError, ClearingError, DecodeError, InvalidAttestation) as exc:
            log.info("external bridge report relayed by %s not attested: %s", sender, exc)

    async def send_payout(self, payout: PayoutObservation, attestation: Attestation) -> None:
        key = ("paid", (payout.member, payout.nonce), payout.tx_hash, payout.log_index)
        await self.send_own(key, PayoutAttestation(payout, attestation))

    async def send_expiry(self, expiry: ExpiryObservation, attestation: Attestation) -> None:
        key = ("expired", (expiry.member, expiry.nonce))
        await self.send_own(key, ExpiryAttestation(expiry, attestation))

    async def send_withdrawal(self, signed: WithdrawalSignature) -> None:
        auth = signed.authorization
        await self.send_own(("signed", (auth.member, auth.nonce)), signed)

    async def send_rotation(self, signed: RotationSignature) -> None:
        """Signed by a key the vault trusts (OwnKeys.get_rotation_key): one that lost its
        power lately still signs rotations in its grace."""
        rotation = signed.rotation
        key = ("rotation", rotation.chain_id, rotation.current.epoch)
        await self.send_own(key, signed, needs_power=False)

    async def send_request(self, request: ReobserveRequest) -> None:
        """Sign and gossip a re-observation request (not remembered: the asker's
        schedule repeats it, signed anew)."""
        assert self.ctx.validator_key is not None  # only validators ask
        signed = sign_reobserve_request(
            self.ctx.validator_key, self.network_chain_id, request, wall_clock_ms()
        )
        await self._publish(encode_message(self.network_chain_id, signed))

    def penalize(self, peer: str) -> None:
        """Score a peer down as for invalid gossip (it floods re-observation requests)."""
        self.ctx.p2p.penalize(peer, Offence.INVALID)

    async def _gossip_own(self, key: OwnKey, data: bytes) -> None:
        """Gossip one of this validator's messages and remember it until settled."""
        self.own[key] = OwnMessage.sent_at(data, trio.current_time())
        await self._publish(data)

    async def _publish(self, data: bytes) -> None:
        try:
            await self.ctx.p2p.publish(BRIDGE, data)
        except MessageTooLarge as exc:
            log.error("own bridge message not gossiped: %s", exc)

    async def regossip(self) -> None:
        """Re-gossips each own message the ledger has not settled yet when it is due
        (`OwnMessage`), looking every REGOSSIP_S."""
        while True:
            await trio.sleep(REGOSSIP_S)
            now = trio.current_time()
            for own in [m for m in self.own.values() if m.due <= now]:
                own.resent_at(now)
                await self._publish(own.data)

    # -- consensus -------------------------------------------------------------

    def propose(self, height: int, time_ms: int) -> list[bytes]:
        """Quorum-carrying credits, payouts and expiries the committed state has not
        settled; a credit or a payout once the proposal's time is past its chain block's
        (the block would refuse it before: clearing/collateral.py)."""
        state = self.ctx.state
        txs = [
            encode_tx(credit)
            for credit in self.credits.get_ready_credits()
            if not self.is_credited(credit.observation.key) and is_due(credit, time_ms)
        ]
        payouts = [paid for paid in self.payouts.get_ready() if is_due(paid, time_ms)]
        for cleared in [*payouts, *self.expiries.get_ready()]:
            o = cleared.observation
            record = state.pending_withdrawals.get((o.member, o.nonce))
            if record is not None and record.chain_id == o.chain_id:
                txs.append(encode_tx(cleared))
        if txs:
            log.debug("proposing %d bridge transactions at height %d", len(txs), height)
        return txs[:MAX_PER_PROPOSAL]

    def on_commit(self, block: CommittedBlock, root: bytes) -> None:
        """Count with the set in force; forget what the block settled; wake the vault
        duties (wait_for_commit)."""
        validators = self.ctx.state.validators
        for pool in (self.credits, self.payouts, self.expiries):
            pool.follow(validators)
        for credit_key in [k for k in self.credits.entries if self.is_credited(k)]:
            self.credits.mark_credited(credit_key)
        self.payouts.prune(self.is_cleared)
        # only a pending withdrawal can expire (long after its debit is committed), so
        # attestations of any other are dropped, whoever invented them
        self.expiries.prune(lambda key: key not in self.ctx.state.pending_withdrawals)
        self.withdrawals.prune(self.is_cleared)
        self.rotations.prune()
        for key in [k for k in self.own if self.is_settled(k)]:
            del self.own[key]
        self.committed.set()

    async def wait_for_commit(self, timeout_s: float) -> None:
        """Until the next commit, or `timeout_s` if none comes first."""
        with trio.move_on_after(timeout_s):
            await self.committed.wait()
        self.committed = trio.Event()
