"""Validators' signed deposit observations, pooled until they carry a quorum.

A final `DepositEvent` becomes clearing's `CollateralObservation` (on-chain amount
floored to whole quanta: dust stays in the vault, against the member), which each
validator signs with its Ed25519 consensus key exactly as clearing verifies it
(`clearing.attestation`, domain `collateral-credit`, the network's chain id). The
node gossips `SignedObservation`s; `ObservationPool` groups attestations by the
exact signed content and yields a `CollateralCredit` transaction once more than 2/3
of voting power signed the same bytes; a validator's first observation of a
deposit is its only vote there (a second, different one is an
`AttestationEquivocation`). The power is the validator set in force's (the node hands
the pool the committed state's `validators` after every commit: `follow`), as clearing
counts it.
Clearing credits each (chain id, vault, deposit nonce) at most once, so a credit
proposed twice is refused there. A deposit clearing cannot credit (unregistered
token, not 1..2^64-1 whole quanta) is still signed, with zero quanta: clearing
then only consumes its nonce, so the vault's credited nonces stay a contiguous
prefix and its replay memory stays small.

A validator whose peers attest a deposit it has not stored (it missed it) or that
is stuck below quorum gossips a `SignedReobserveRequest` (signed with its validator
key, so no outsider can make validators read chains); a validator watching that chain
looks the deposit up by receipt (node/bridge/chains.py:handle_reobserve_request),
re-checking finality, canonical block hash and status, and stores and signs it if it
is real.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.cursor import CursorStore
from bridge.deposits import DepositEvent
from bridge.wire import FORMAT_VERSION, Versioned
from clearing.assets import CollateralKey, CollateralToken
from clearing.attestation import (
    Attestation,
    compute_signing_bytes,
    is_quorum,
    is_valid_signature,
    sign_attestation,
)
from clearing.collateral import CREDIT_DOMAIN, CollateralCredit, CollateralObservation
from clearing.genesis import Validator
from clearing.replay_protection import (
    DepositNonces,
    VaultKey,
    is_deposit_credited,
    record_deposit_nonce,
)
from clearing.units import MAX_UINT64
from records.declared import ChainId, Declared, Hash, Inline, Uint, declare_record


class ObservationError(Exception):
    """A deposit or observation that cannot enter the quorum path."""


class UnregisteredToken(ObservationError):
    def __init__(self, chain_id: int, token: bytes) -> None:
        super().__init__(f"token 0x{token.hex()} on chain {chain_id} is not registered collateral")
        self.chain_id, self.token = chain_id, token


class NotWholeQuanta(ObservationError):
    def __init__(self, amount: int, quantum: int) -> None:
        super().__init__(
            f"amount {amount} is {amount // quantum} quanta of {quantum}: not 1..2^64-1"
        )
        self.amount, self.quantum = amount, quantum


class InvalidAttestation(ObservationError):
    def __init__(self, signer: bytes, reason: str) -> None:
        super().__init__(f"attestation by {signer.hex()}: {reason}")
        self.signer, self.reason = signer, reason


class AttestationEquivocation(InvalidAttestation):
    """A validator signed two contents for one deposit: the first is kept, both are
    evidence (each carries the validator's own valid signature)."""

    def __init__(
        self, signer: bytes, first: CollateralObservation, second: CollateralObservation
    ) -> None:
        pairs = [(f.name, getattr(first, f.name), getattr(second, f.name)) for f in fields(first)]
        differences = ", ".join(
            f"{name} {_show(kept)} kept, {_show(refused)} refused"
            for name, kept, refused in pairs
            if kept != refused
        )
        deposit = (
            f"nonce {first.deposit_nonce} of vault 0x{first.vault.hex()} on chain {first.chain_id}"
        )
        super().__init__(signer, f"equivocates on deposit {deposit}: {differences}")
        self.first, self.second = first, second


class TooManyPending(InvalidAttestation):
    """A validator already has `limit` deposits pooled below credit: a byzantine one
    inventing deposits (any nonce, any vault) must not grow every node's pool."""

    def __init__(self, signer: bytes, limit: int) -> None:
        super().__init__(signer, f"already attests {limit} uncredited deposits, the most kept")
        self.limit = limit


def _show(value: object) -> str:
    return f"0x{value.hex()}" if isinstance(value, bytes) else repr(value)


def compute_observation(
    deposit: DepositEvent, tokens: Mapping[CollateralKey, CollateralToken]
) -> CollateralObservation:
    """Clearing's record of a final deposit: whole quanta of a registered token."""
    token = tokens.get((deposit.chain_id, deposit.token))
    if token is None:
        raise UnregisteredToken(deposit.chain_id, deposit.token)
    quanta = deposit.amount // token.quantum
    if not 1 <= quanta <= MAX_UINT64:
        raise NotWholeQuanta(deposit.amount, token.quantum)
    return _observe(deposit, quanta)


def compute_settling_observation(
    deposit: DepositEvent, tokens: Mapping[CollateralKey, CollateralToken]
) -> tuple[CollateralObservation, ObservationError | None]:
    """What a validator signs for a final deposit: its credit, or, with the reason it
    cannot be credited, the zero-quanta observation that only consumes its nonce."""
    try:
        return compute_observation(deposit, tokens), None
    except ObservationError as exc:
        return _observe(deposit, 0), exc


def _observe(deposit: DepositEvent, quanta: int) -> CollateralObservation:
    return CollateralObservation(
        chain_id=deposit.chain_id,
        vault=deposit.vault,
        tx_hash=deposit.tx_hash,
        log_index=deposit.log_index,
        deposit_nonce=deposit.deposit_nonce,
        member=deposit.member,
        sub_account=deposit.sub_account,
        token=deposit.token,
        quanta=quanta,
        block_time_s=deposit.block_time_s,
    )


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class SignedObservation(Versioned):
    """One validator's attestation of one observation: the gossip message."""

    observation: CollateralObservation
    attestation: Attestation

    def is_valid(self, network_chain_id: int) -> bool:
        message = self.observation.signing_bytes(network_chain_id)
        return is_valid_signature(self.attestation.signer, self.attestation.signature, message)


def sign_observation(
    key: Ed25519PrivateKey, network_chain_id: int, observation: CollateralObservation
) -> SignedObservation:
    attestation = sign_attestation(key, CREDIT_DOMAIN, network_chain_id, observation.to_fields())
    return SignedObservation(observation, attestation)


def sign_new_deposits(
    store: CursorStore,
    since_seq: int,
    tokens: Mapping[CollateralKey, CollateralToken],
    key: Ed25519PrivateKey,
    network_chain_id: int,
    limit: int = 1000,
) -> tuple[int, list[SignedObservation], list[tuple[DepositEvent, ObservationError]]]:
    """Sign the watcher outbox after `since_seq`: (last seq read, signed, refused).

    Refused deposits (unregistered token, less than one quantum) are returned with
    their reason so the node can log them; they are signed with zero quanta, which
    clearing takes as consuming their nonce and crediting nothing.
    """
    signed, refused = [], []
    last = since_seq
    for seq, deposit in store.get_deposits_since(since_seq, limit):
        last = seq
        observation, reason = compute_settling_observation(deposit, tokens)
        if reason is not None:
            refused.append((deposit, reason))
        signed.append(sign_observation(key, network_chain_id, observation))
    return last, signed, refused


def drop_signers(entries: dict[Any, dict[Any, dict[bytes, Attestation]]],
                 removed: AbstractSet[bytes]) -> None:  # fmt: skip
    """Drop the attestations of `removed` keys from a pool's subject -> content ->
    signer entries, and the contents and subjects left with none."""
    for subject in list(entries):
        contents = entries[subject]
        for content in list(contents):
            for signer in removed & contents[content].keys():
                del contents[content][signer]
            if not contents[content]:
                del contents[content]
        if not contents:
            del entries[subject]


CreditKey = tuple[int, bytes, int]
"""``CollateralObservation.key``: (chain id, vault, deposit nonce)."""
MAX_PENDING_PER_SIGNER = 4096


@dataclass
class ObservationPool:
    """Valid attestations grouped by dedup key, then by exact observation content; at
    most one per (validator, key) and `max_pending` uncredited keys per validator, so
    it holds at most validators x min(pending keys, `max_pending`) attestations."""

    network_chain_id: int
    validators: Mapping[bytes, Validator]  # the set in force, by Ed25519 public key
    entries: dict[CreditKey, dict[CollateralObservation, dict[bytes, Attestation]]] = field(
        default_factory=dict
    )
    credited: dict[VaultKey, DepositNonces] = field(default_factory=dict)  # ledger's bound
    max_pending: int = MAX_PENDING_PER_SIGNER
    pending: dict[bytes, int] = field(default_factory=dict)  # uncredited keys per signer

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators.values())

    def add(self, signed: SignedObservation) -> bool:
        """Keep a valid attestation; True when it is new. Raises InvalidAttestation:
        AttestationEquivocation when its signer already attested other content for the same
        key,
        TooManyPending when its signer already attests `max_pending` uncredited keys.

        A validator's first observation of a deposit is its only vote: at most one
        attestation per (validator, key) is kept, so a key holds at most one content
        per validator and at most `len(validators)` attestations, and no content can
        reach quorum on votes a validator also gave to another (two quorums would need
        more than all the power).
        """
        signer = signed.attestation.signer
        validator = self.validators.get(signer)
        if validator is None:
            raise InvalidAttestation(signer, "not a validator of the set in force")
        if validator.power == 0:
            raise InvalidAttestation(signer, "a validator without power (jailed)")
        if not signed.is_valid(self.network_chain_id):
            raise InvalidAttestation(signer, "signature does not verify")
        key = signed.observation.key
        if is_deposit_credited(self.credited, *key):
            return False
        first = self.get_attested(key, signer)
        if first is not None and first != signed.observation:
            raise AttestationEquivocation(signer, first, signed.observation)
        if first is not None:
            return False
        if self.pending.get(signer, 0) >= self.max_pending:
            raise TooManyPending(signer, self.max_pending)
        self.entries.setdefault(key, {}).setdefault(signed.observation, {})[signer] = (
            signed.attestation
        )
        self.pending[signer] = self.pending.get(signer, 0) + 1
        return True

    def follow(self, validators: Mapping[bytes, Validator]) -> None:
        """Count with the set in force after a commit: the attestations of keys it no
        longer holds (removed, or re-keyed) are dropped, as clearing refuses a credit
        carrying one; a jailed key's stay and count 0."""
        removed = self.validators.keys() - validators.keys()
        self.validators = validators
        if removed:
            drop_signers(self.entries, removed)
            for signer in removed & self.pending.keys():
                del self.pending[signer]

    def get_attested(self, key: CreditKey, signer: bytes) -> CollateralObservation | None:
        """The content `signer` attested for `key`, if pooled."""
        contents = self.entries.get(key, {})
        return next((o for o, signers in contents.items() if signer in signers), None)

    def get_ready_credits(self) -> list[CollateralCredit]:
        """One CollateralCredit per key whose attestations on one content reach quorum."""
        credits = []
        for key in sorted(self.entries):
            for observation, attestations in self.entries[key].items():
                power = sum(self.validators[s].power for s in attestations)
                if is_quorum(power, self.total_power):
                    ordered = tuple(attestations[s] for s in sorted(attestations))
                    credits.append(CollateralCredit(observation, ordered))
                    break
        return credits

    def mark_credited(self, key: CreditKey) -> None:
        """Drop a key a committed block credited; later attestations for it are ignored."""
        for signers in self.entries.pop(key, {}).values():
            for signer in signers:
                self.pending[signer] -= 1
        if not is_deposit_credited(self.credited, *key):
            record_deposit_nonce(self.credited, *key)

    def get_keys_unsigned_by(self, signer: bytes) -> list[CreditKey]:
        """Keys peers attested that `signer` has not: candidates for re-observation."""
        return sorted(
            key
            for key, contents in self.entries.items()
            if not any(signer in attestations for attestations in contents.values())
        )


@declare_record
@dataclass(frozen=True)
class ReobserveRequest(Declared):
    """Which deposit log a validator asks its peers to look up and attest if real."""

    chain_id: ChainId
    tx_hash: Hash
    log_index: Uint


def compute_request_body(request: ReobserveRequest, sent_ms: int) -> list[object]:
    """What the asking validator signs (under `REOBSERVE_DOMAIN` and the network id)."""
    return [*request.to_fields(), sent_ms]


REOBSERVE_DOMAIN = "reobserve-request"
REQUEST_VERSION = 2
"""Version 1 was an unsigned request any node could send; it is refused."""


@declare_record(head=REQUEST_VERSION)
@dataclass(frozen=True)
class SignedReobserveRequest(Versioned):
    """A `ReobserveRequest` signed by the asking validator at `sent_ms` (its wall clock):
    only validators make their peers read a chain, and the time lets the first hop
    refuse stale copies and budget each signer's fresh requests (node/bridge). On the
    wire, flat: the version, the request's fields, the time, the signer and signature."""

    request: Annotated[ReobserveRequest, Inline()]
    sent_ms: Uint
    attestation: Annotated[Attestation, Inline()]

    def signing_bytes(self, network_chain_id: int) -> bytes:
        """What the asker signed: chain-bound, under its own domain."""
        body = compute_request_body(self.request, self.sent_ms)
        return compute_signing_bytes(REOBSERVE_DOMAIN, network_chain_id, body)


def sign_reobserve_request(
    key: Ed25519PrivateKey, network_chain_id: int, request: ReobserveRequest, sent_ms: int
) -> SignedReobserveRequest:
    body = compute_request_body(request, sent_ms)
    attestation = sign_attestation(key, REOBSERVE_DOMAIN, network_chain_id, body)
    return SignedReobserveRequest(request, sent_ms, attestation)
