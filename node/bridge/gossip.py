"""The `bridge` gossip topic: validators' deposit, payout and expiry attestations,
their EVM signatures over withdrawal authorisations and vault rotations, requests
to re-observe a deposit (node/bridge/reobserve.py), and external bridges' signed
deposit reports a node's API took (so each validator checks and attests them).

Wire format (msgpack): ``[GOSSIP_VERSION, network chain id, kind, body]`` where
`body` is the bridge record's own versioned encoding (bridge/wire.py), at most
`MAX_MESSAGE_BYTES`. Every node checks a message at the first hop, before
relaying it, against its genesis and its committed state: the network chain id, a
registered collateral token or chain, the signature itself, and a signer the
validator set in force holds with power (signers.py: Ed25519 key for attestations,
EVM address for withdrawal and rotation signatures; a rotation's signer must also be
in the rotation's current set, and may have lost its power within `[bridge]
rotation_grace_blocks`: the vault still trusts it); a re-observation request must name a chain with
registered collateral, be at most `MAX_REQUEST_BYTES` and be signed by a validator
(the unsigned version 1 is refused); an external bridge's report must name a chain
with registered collateral and carry a valid signature by the key it names (whether
that key is a registered bridge's is the state's to say: each validator checks it
against its committed state before it attests). A validly signed message whose
signer the set in force does not hold with power raises one of `IGNORES`: dropped,
not relayed, nobody penalised, as the forwarder may be a block ahead of this node
(a validator governance just added) or behind it (one just removed or jailed).
Anything else raises one of `REJECTS`; the p2p layer drops the message and scores
its forwarder down. A request that passes is then admitted or dropped by its
signer's budget (admission.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.eip712 import SignatureError, recover_signer
from bridge.external import SignedExternalEvent, compute_external_signing_bytes
from bridge.observation import SignedObservation, SignedReobserveRequest
from bridge.rotation import RotationSignature
from bridge.wire import FORMAT_VERSION, Versioned
from bridge.withdrawal import WithdrawalSignature
from clearing.assets import CollateralKey
from clearing.attestation import Attestation, is_valid_signature
from clearing.errors import BadSignature, ClearingError, UnknownCollateral
from clearing.genesis import Genesis, Validator
from clearing.state import ClearingState
from clearing.transition.withdrawal import PayoutObservation
from clearing.validator_set import has_power
from clearing.withdrawal_expiry import ExpiryObservation
from node.bridge.admission import RequestGate
from node.bridge.signers import (
    describe_absence,
    find_evm_validator,
    find_retiring_evm_validator,
)
from node.p2p import Topic
from node.p2p.errors import WrongChain
from node.p2p.topics import BRIDGE
from records.codec import DecodeError, expect_int, expect_list, pack, unpack
from records.declared import declare_record

GOSSIP_VERSION = 1
MAX_MESSAGE_BYTES = 4 * 1024
MAX_REQUEST_BYTES = 192
WHAT = "BridgeMessage"
KIND_DEPOSIT, KIND_PAYOUT, KIND_WITHDRAWAL, KIND_REOBSERVE, KIND_EXPIRY = 1, 2, 3, 4, 5
KIND_ROTATION = 6
KIND_EXTERNAL = 7


class BridgeGossipError(ValueError):
    """A well-formed bridge message this network must not relay."""


class UnknownChain(BridgeGossipError):
    def __init__(self, chain_id: int) -> None:
        super().__init__(f"chain {chain_id} holds no registered collateral")
        self.chain_id = chain_id


class BadEvmSignature(BridgeGossipError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"EVM signature: {reason}")
        self.reason = reason


class OutsideValidatorSet(BridgeGossipError):
    """Validly signed by a key the validator set in force does not hold with power: not
    added yet here, or removed or jailed. Proves nothing against the forwarder."""

    def __init__(self, what: str, signer: bytes, validator: Validator | None) -> None:
        super().__init__(f"signed by {what} 0x{signer.hex()}, {describe_absence(validator)}")
        self.signer = signer
        self.power = None if validator is None else validator.power  # None: not in the set


class UnknownValidator(OutsideValidatorSet):
    def __init__(self, signer: bytes, validator: Validator | None) -> None:
        super().__init__("Ed25519 key", signer, validator)


class UnknownEvmSigner(OutsideValidatorSet):
    def __init__(self, signer: bytes, validator: Validator | None) -> None:
        super().__init__("EVM address", signer, validator)


class NotInCurrentSet(BridgeGossipError):
    """A rotation signed by an address the vault's current set (as the rotation names
    it) does not hold: its signature can never count."""

    def __init__(self, signer: bytes, epoch: int) -> None:
        super().__init__(f"rotation signed by 0x{signer.hex()}, not in the set of epoch {epoch}")
        self.signer, self.epoch = signer, epoch


REJECTS = (ClearingError, DecodeError, BridgeGossipError, WrongChain)
"""Every error `BridgeCheck.decode` raises for a bad message."""
IGNORES = (OutsideValidatorSet,)
"""What proves nothing against the forwarder: a signer this node's committed state
does not hold with power may be in the set of a block it has not committed yet (a
validator governance added), or have been removed or jailed in a block the forwarder
has not committed yet; or the message is an old one re-delivered."""


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class PayoutAttestation(Versioned):
    """One validator's attestation that the vault paid a withdrawal (a final Withdrawn log)."""

    observation: PayoutObservation
    attestation: Attestation


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class ExpiryAttestation(Versioned):
    """One validator's attestation that the vault never used an expired withdrawal's nonce."""

    observation: ExpiryObservation
    attestation: Attestation


PooledMessage = (
    SignedObservation
    | PayoutAttestation
    | WithdrawalSignature
    | ExpiryAttestation
    | RotationSignature
)
BridgeMessage = PooledMessage | SignedReobserveRequest | SignedExternalEvent
KINDS: dict[type, int] = {
    SignedObservation: KIND_DEPOSIT,
    PayoutAttestation: KIND_PAYOUT,
    WithdrawalSignature: KIND_WITHDRAWAL,
    SignedReobserveRequest: KIND_REOBSERVE,
    ExpiryAttestation: KIND_EXPIRY,
    RotationSignature: KIND_ROTATION,
    SignedExternalEvent: KIND_EXTERNAL,
}


def encode_message(network_chain_id: int, message: BridgeMessage) -> bytes:
    return pack([GOSSIP_VERSION, network_chain_id, KINDS[type(message)], message.encode()])


@dataclass(frozen=True)
class BridgeCheck:
    """What a node knows to check a bridge message: its genesis (chain id, collateral)
    and its committed state (the validator set in force)."""

    chain_id: int
    tokens: frozenset[CollateralKey]
    state: Callable[[], ClearingState]
    rotation_grace_blocks: int = 0  # a rotation's signer may have lost its power this recently

    @classmethod
    def from_genesis(
        cls, genesis: Genesis, state: Callable[[], ClearingState], rotation_grace_blocks: int = 0
    ) -> BridgeCheck:
        tokens = frozenset(t.key for t in genesis.collateral)
        return cls(genesis.chain_id, tokens, state, rotation_grace_blocks)

    def decode(self, data: bytes) -> BridgeMessage:
        """The message in `data`, fully checked; raises one of `IGNORES` or `REJECTS`."""
        if len(data) > MAX_MESSAGE_BYTES:
            raise DecodeError(WHAT, f"{len(data)} bytes exceed {MAX_MESSAGE_BYTES}")
        version, chain_id, kind, body = expect_list(unpack(data, WHAT), WHAT, 4)
        if expect_int(version, f"{WHAT}.version") != GOSSIP_VERSION:
            raise DecodeError(WHAT, f"version {version}, expected {GOSSIP_VERSION}")
        if expect_int(chain_id, f"{WHAT}.chain_id") != self.chain_id:
            raise WrongChain("bridge message", self.chain_id, chain_id)
        if type(body) is not bytes:
            raise DecodeError(f"{WHAT}.body", f"expected bytes, got {type(body).__name__}")
        kind = expect_int(kind, f"{WHAT}.kind", KIND_DEPOSIT, KIND_EXTERNAL)
        if kind == KIND_DEPOSIT:
            deposit = SignedObservation.decode(body)
            self.check_deposit(deposit)
            return deposit
        if kind == KIND_PAYOUT:
            payout = PayoutAttestation.decode(body)
            self.check_payout(payout)
            return payout
        if kind == KIND_REOBSERVE:
            return self.check_request(body)
        if kind == KIND_EXPIRY:
            expiry = ExpiryAttestation.decode(body)
            self.check_expiry(expiry)
            return expiry
        if kind == KIND_ROTATION:
            rotation = RotationSignature.decode(body)
            self.check_rotation(rotation)
            return rotation
        if kind == KIND_EXTERNAL:
            external = SignedExternalEvent.decode(body)
            self.check_external(external)
            return external
        withdrawal = WithdrawalSignature.decode(body)
        self.check_withdrawal(withdrawal)
        return withdrawal

    def check_request(self, body: bytes) -> SignedReobserveRequest:
        if len(body) > MAX_REQUEST_BYTES:
            raise DecodeError(f"{WHAT}.body", f"request of {len(body)} bytes > {MAX_REQUEST_BYTES}")
        signed = SignedReobserveRequest.decode(body)
        self._check_chain(signed.request.chain_id)
        message = signed.signing_bytes(self.chain_id)
        self._check_attestation(signed.attestation, message, "ReobserveRequest")
        return signed

    def check_deposit(self, signed: SignedObservation) -> None:
        o, a = signed.observation, signed.attestation
        if o.quanta and (o.chain_id, o.token) not in self.tokens:
            raise UnknownCollateral(o.chain_id, o.token)
        self._check_chain(o.chain_id)  # zero quanta: only consumes a watched vault's nonce
        self._check_attestation(a, o.signing_bytes(self.chain_id), "CollateralObservation")

    def check_payout(self, payout: PayoutAttestation) -> None:
        o = payout.observation
        self._check_chain(o.chain_id)
        self._check_attestation(payout.attestation, o.signing_bytes(self.chain_id),
                                "PayoutObservation")  # fmt: skip

    def check_expiry(self, expiry: ExpiryAttestation) -> None:
        o = expiry.observation
        self._check_chain(o.chain_id)
        self._check_attestation(expiry.attestation, o.signing_bytes(self.chain_id),
                                "ExpiryObservation")  # fmt: skip

    def check_external(self, event: SignedExternalEvent) -> None:
        o = event.observation
        self._check_chain(o.chain_id)
        message = compute_external_signing_bytes(self.chain_id, o)
        if not is_valid_signature(event.bridge_key, event.signature, message):
            raise BadSignature("SignedExternalEvent", event.bridge_key)

    def _check_chain(self, chain_id: int) -> None:
        """A chain with registered collateral: one whose vault the validators watch."""
        if not any(chain == chain_id for chain, _ in self.tokens):
            raise UnknownChain(chain_id)

    def _check_attestation(self, attestation: Attestation, message: bytes, what: str) -> None:
        """The signature, then the signer's power (so a forgery is always refused)."""
        if not is_valid_signature(attestation.signer, attestation.signature, message):
            raise BadSignature(what, attestation.signer)
        validator = self.state().validators.get(attestation.signer)
        if not has_power(validator):
            raise UnknownValidator(attestation.signer, validator)

    def _check_evm_signer(self, signer: bytes) -> None:
        validator = find_evm_validator(self.state(), signer)
        if not has_power(validator):
            raise UnknownEvmSigner(signer, validator)

    def check_withdrawal(self, signed: WithdrawalSignature) -> None:
        auth = signed.authorization
        if (auth.chain_id, auth.token) not in self.tokens:
            raise UnknownCollateral(auth.chain_id, auth.token)
        try:
            signer = recover_signer(auth.get_digest(), signed.signature)
        except SignatureError as exc:
            raise BadEvmSignature(str(exc)) from None
        self._check_evm_signer(signer)

    def check_rotation(self, signed: RotationSignature) -> None:
        rotation = signed.rotation
        self._check_chain(rotation.chain_id)
        try:
            signer = recover_signer(rotation.get_digest(), signed.signature)
        except SignatureError as exc:
            raise BadEvmSignature(str(exc)) from None
        state = self.state()
        validator = find_evm_validator(state, signer)
        if (
            not has_power(validator)
            and find_retiring_evm_validator(state, signer, self.rotation_grace_blocks) is None
        ):
            raise UnknownEvmSigner(signer, validator)
        if rotation.current.get_power(signer) == 0:
            raise NotInCurrentSet(signer, rotation.current.epoch)

    def topic(self, gate: RequestGate | None = None) -> Topic:
        """The bridge topic; `gate` (a new one by default) admits re-observation requests
        at the first hop, and its owner reads its counters."""
        if gate is None:
            gate = RequestGate(lambda: self.state().validators)
        return Topic(BRIDGE, MAX_MESSAGE_BYTES, self.decode, REJECTS, ignores=IGNORES, inbox=1024,
                     admit=gate.admit)  # fmt: skip
