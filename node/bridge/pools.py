"""What every node pools from the `bridge` topic besides deposit attestations
(bridge.observation.ObservationPool): payout and expiry attestations until they
carry a quorum, validators' EVM signatures per pending withdrawal, and their EVM
signatures over each vault's rotation to the consensus set.

All group by the exact signed content, so a validator that signed different
bytes (another epoch, a forged amount) never adds power to the honest set. The
attestation pools count each signer with its power in the validator set in force,
which the node hands them after every commit (`follow`), as clearing counts it: a
transaction they call ready is never refused for power. The signature books count
against the set a vault trusts (what the vault checks), or the consensus set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridge.eip712 import SignatureError, recover_signer
from bridge.observation import InvalidAttestation, drop_signers
from bridge.rotation import Rotation, RotationSignature
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.withdrawal import (
    SignatureSet,
    WithdrawalAuthorization,
    WithdrawalError,
    WithdrawalSignature,
    collect_withdrawal_signatures,
)
from clearing.attestation import Attestation, is_quorum
from clearing.genesis import Validator
from clearing.transition.withdrawal import PayoutObservation, WithdrawalPaid
from clearing.validator_set import has_power
from clearing.withdrawal_expiry import ExpiryObservation, WithdrawalExpired
from node.bridge.gossip import ExpiryAttestation, PayoutAttestation

LogKey = tuple[int, bytes, int]  # (chain id, tx hash, log index)
WithdrawalKey = tuple[bytes, int]  # (member, nonce)


Attested = PayoutAttestation | ExpiryAttestation


@dataclass
class AttestedPool:
    """Attestations (each already checked) by subject, then by exact content, until one
    content carries a quorum; subclasses name the subject and the transaction."""

    tx_type: ClassVar[type[WithdrawalPaid] | type[WithdrawalExpired]]
    validators: Mapping[bytes, Validator]  # the set in force, by Ed25519 public key
    entries: dict[Hashable, dict[Any, dict[bytes, Attestation]]] = field(default_factory=dict)

    def get_subject(self, observation: Any) -> Hashable:
        raise NotImplementedError

    def add(self, message: Attested) -> bool:
        """Keep one validator's attestation; True when it is new. Raises
        InvalidAttestation for a signer the set in force does not hold with power (one
        removed or jailed in a block committed since the first hop checked it)."""
        signer = message.attestation.signer
        validator = self.validators.get(signer)
        if not has_power(validator):
            raise InvalidAttestation(signer, "no power in the validator set in force")
        o = message.observation
        signers = self.entries.setdefault(self.get_subject(o), {}).setdefault(o, {})
        if signer in signers:
            return False
        signers[signer] = message.attestation
        return True

    def follow(self, validators: Mapping[bytes, Validator]) -> None:
        """Count with the set in force after a commit: the attestations of keys it no
        longer holds are dropped (clearing refuses a transaction carrying one); a jailed
        key's stay and count 0."""
        removed = self.validators.keys() - validators.keys()
        self.validators = validators
        if removed:
            drop_signers(self.entries, removed)

    def get_ready(self) -> list[Any]:
        """One transaction per subject whose attestations on one content reach quorum of
        the set in force."""
        total = sum(v.power for v in self.validators.values())
        ready = []
        for key in sorted(self.entries):  # type: ignore[type-var]
            for observation, signers in self.entries[key].items():
                if is_quorum(sum(self.validators[s].power for s in signers), total):
                    ordered = tuple(signers[s] for s in sorted(signers))
                    ready.append(self.tx_type(observation, ordered))
                    break
        return ready

    def prune(self, is_done: Callable[[WithdrawalKey], bool]) -> None:
        """Forget the subjects whose every withdrawal `is_done`."""
        for key in list(self.entries):
            if all(is_done((o.member, o.nonce)) for o in self.entries[key]):
                del self.entries[key]


class PayoutPool(AttestedPool):
    """Payout attestations by Withdrawn log."""

    tx_type = WithdrawalPaid

    def get_subject(self, observation: PayoutObservation) -> LogKey:
        return (observation.chain_id, observation.tx_hash, observation.log_index)


class ExpiryPool(AttestedPool):
    """Expiry attestations by withdrawal (honest validators all name the same block)."""

    tx_type = WithdrawalExpired

    def get_subject(self, observation: ExpiryObservation) -> tuple[int, bytes, int]:
        return (observation.chain_id, observation.member, observation.nonce)


ConsensusGetter = Callable[[], Sequence[tuple[bytes, int]]]
KnownSetGetter = Callable[[int, bytes], EvmValidatorSet | None]
"""The set a vault (chain id, address) trusts as this node last read it at a final
block, or None if this node does not read that chain."""


def never_read(chain_id: int, vault: bytes) -> EvmValidatorSet | None:
    return None


@dataclass
class WithdrawalBook:
    """Validators' EVM signatures per (member, nonce), grouped by authorisation digest.

    Signatures are counted against the set the vault trusts at the authorisation's
    epoch: the one this node read from the chain if it is at that epoch, otherwise
    the consensus set (what the vault will trust once rotated)."""

    get_consensus: ConsensusGetter
    get_known_set: KnownSetGetter = never_read
    entries: dict[
        WithdrawalKey, dict[bytes, tuple[WithdrawalAuthorization, dict[bytes, bytes]]]
    ] = field(default_factory=dict)

    def add(self, signed: WithdrawalSignature) -> bool:
        """Keep a signature of a member of the set it is counted against; True when it
        is new. Raises bridge's WithdrawalError for any other."""
        auth = signed.authorization
        digest = auth.get_digest()
        try:
            signer = recover_signer(digest, signed.signature)
        except SignatureError as exc:
            raise WithdrawalError(f"bad signature: {exc}") from None
        try:
            validators = self.get_validator_set(auth)
        except ValidatorSetError as exc:
            raise WithdrawalError(f"no validator set to count it against: {exc}") from None
        if validators.get_power(signer) == 0:
            raise WithdrawalError(
                f"signer 0x{signer.hex()} not in validator set epoch {auth.epoch}"
            )
        by_digest = self.entries.setdefault((auth.member, auth.nonce), {})
        signatures = by_digest.setdefault(digest, (auth, {}))[1]
        if signatures.get(signer) == signed.signature:
            return False
        signatures[signer] = signed.signature
        return True

    def get_validator_set(self, auth: WithdrawalAuthorization) -> EvmValidatorSet:
        known = self.get_known_set(auth.chain_id, auth.vault)
        if known is not None and known.epoch == auth.epoch:
            return known
        return EvmValidatorSet.from_members(auth.epoch, self.get_consensus())

    def get_best(self, key: WithdrawalKey) -> tuple[WithdrawalAuthorization, SignatureSet] | None:
        """The authorisation for the vault's current epoch if this node knows it, then
        complete ones, then the latest epoch, then the most signed power; or None (also
        while the consensus set is one no vault can hold)."""
        try:
            candidates = [
                (
                    auth,
                    collect_withdrawal_signatures(
                        auth, self.get_validator_set(auth), sigs.values()
                    ),
                )
                for auth, sigs in self.entries.get(key, {}).values()
            ]
        except ValidatorSetError:
            return None

        def rank(candidate: tuple[WithdrawalAuthorization, SignatureSet]) -> tuple[Any, ...]:
            auth, collected = candidate
            known = self.get_known_set(auth.chain_id, auth.vault)
            is_current = known is not None and known.epoch == auth.epoch
            return (is_current, collected.is_complete(), auth.epoch,
                    collected.get_signed_power())  # fmt: skip

        return max(candidates, key=rank, default=None)

    def prune(self, is_cleared: Callable[[WithdrawalKey], bool]) -> None:
        """Forget withdrawals the ledger has cleared (paid or refunded; a signature that
        arrives before this node commits the debit is kept)."""
        for key in [k for k in self.entries if is_cleared(k)]:
            del self.entries[key]


VaultKey = tuple[int, bytes]  # (chain id, vault)


@dataclass
class RotationBook:
    """Validators' EVM signatures over vault rotations: per vault and signer only the
    latest (a later current epoch replaces an earlier one; at one epoch the last
    received wins, as the target moves with consensus), so a vault holds at most one
    signature per validator."""

    get_consensus: ConsensusGetter
    get_known_set: KnownSetGetter = never_read
    entries: dict[VaultKey, dict[bytes, RotationSignature]] = field(default_factory=dict)

    def add(self, signed: RotationSignature) -> bool:
        """Keep a signature of a member of the rotation's current set; True when it is
        new. Raises bridge's WithdrawalError for any other."""
        rotation = signed.rotation
        signer = SignatureSet(rotation.get_digest(), rotation.current).add(signed.signature)
        by_signer = self.entries.setdefault((rotation.chain_id, rotation.vault), {})
        kept = by_signer.get(signer)
        if kept == signed or (
            kept is not None and kept.rotation.current.epoch > rotation.current.epoch
        ):
            return False
        by_signer[signer] = signed
        return True

    def get_best(self, key: VaultKey) -> tuple[Rotation, SignatureSet] | None:
        """The rotation to the consensus set with the most signed power among those from
        the vault's current set (as this node last read it, when it does), or None."""
        try:
            consensus = EvmValidatorSet.from_members(0, self.get_consensus()).members
        except ValidatorSetError:  # no vault can hold it: nothing to serve
            return None
        known = self.get_known_set(*key)
        grouped: dict[Rotation, list[bytes]] = {}
        for signed in self.entries.get(key, {}).values():
            rotation = signed.rotation
            if rotation.target.members != consensus:
                continue
            if known is not None and rotation.current != known:
                continue
            grouped.setdefault(rotation, []).append(signed.signature)
        candidates = [(rotation, rotation.collect(sigs)) for rotation, sigs in grouped.items()]

        def rank(candidate: tuple[Rotation, SignatureSet]) -> tuple[Any, ...]:
            rotation, collected = candidate
            return (collected.is_complete(), rotation.current.epoch,
                    collected.get_signed_power())  # fmt: skip

        return max(candidates, key=rank, default=None)

    def get_all_best(self) -> list[tuple[Rotation, SignatureSet]]:
        found = (self.get_best(key) for key in sorted(self.entries))
        return [best for best in found if best is not None]

    def prune(self) -> None:
        """Forget signatures from an epoch a vault this node reads has left."""
        for key, by_signer in self.entries.items():
            known = self.get_known_set(*key)
            if known is None:
                continue
            for signer in [
                s for s, r in by_signer.items() if r.rotation.current.epoch < known.epoch
            ]:
                del by_signer[signer]
