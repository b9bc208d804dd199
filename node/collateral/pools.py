"""What every node pools from the `bridge` topic besides deposit attestations
(bridge.observation.ObservationPool): payout and expiry attestations until they
carry a quorum, and validators' EVM signatures per pending withdrawal.

All group by the exact signed content, so a validator that signed different
bytes (another epoch, a forged amount) never adds power to the honest set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridge.validators import EvmValidatorSet
from bridge.withdrawal import SignatureSet, WithdrawalAuthorization, WithdrawalSignature
from clearing.attestation import Attestation, is_quorum
from clearing.withdrawal import PayoutObservation, WithdrawalPaid
from clearing.withdrawal_expiry import ExpiryObservation, WithdrawalExpired
from node.collateral.gossip import ExpiryAttestation, PayoutAttestation

LogKey = tuple[int, bytes, int]  # (chain id, tx hash, log index)
WithdrawalKey = tuple[bytes, int]  # (member, nonce)


Attested = PayoutAttestation | ExpiryAttestation


@dataclass
class AttestedPool:
    """Attestations (each already checked) by subject, then by exact content, until one
    content carries a quorum; subclasses name the subject and the transaction."""

    tx_type: ClassVar[type[WithdrawalPaid] | type[WithdrawalExpired]]
    powers: Mapping[bytes, int]  # Ed25519 public key -> power
    entries: dict[Hashable, dict[Any, dict[bytes, Attestation]]] = field(default_factory=dict)

    def get_subject(self, observation: Any) -> Hashable:
        raise NotImplementedError

    def add(self, message: Attested) -> bool:
        """Keep one validator's attestation; True when it is new."""
        o = message.observation
        signers = self.entries.setdefault(self.get_subject(o), {}).setdefault(o, {})
        if message.attestation.signer in signers:
            return False
        signers[message.attestation.signer] = message.attestation
        return True

    def get_ready(self) -> list[Any]:
        """One transaction per subject whose attestations on one content reach quorum."""
        total = sum(self.powers.values())
        ready = []
        for key in sorted(self.entries):  # type: ignore[type-var]
            for observation, signers in self.entries[key].items():
                if is_quorum(sum(self.powers.get(s, 0) for s in signers), total):
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


@dataclass
class WithdrawalBook:
    """Validators' EVM signatures per (member, nonce), grouped by authorisation digest."""

    members: tuple[tuple[bytes, int], ...]  # genesis validators' (EVM address, power)
    entries: dict[WithdrawalKey, dict[bytes, tuple[WithdrawalAuthorization, SignatureSet]]] = field(
        default_factory=dict
    )

    def add(self, signed: WithdrawalSignature) -> bool:
        """Keep a valid signature; True when it is new. Raises bridge's WithdrawalError."""
        auth = signed.authorization
        digest = auth.get_digest()
        by_digest = self.entries.setdefault((auth.member, auth.nonce), {})
        if digest not in by_digest:
            validators = EvmValidatorSet.from_members(auth.epoch, self.members)
            by_digest[digest] = (auth, SignatureSet(digest, validators))
        collected = by_digest[digest][1]
        before = len(collected.signatures)
        collected.add(signed.signature)
        return len(collected.signatures) > before

    def get_best(self, key: WithdrawalKey) -> tuple[WithdrawalAuthorization, SignatureSet] | None:
        """The authorisation with the most signed power (complete ones first), or None."""
        candidates = self.entries.get(key, {}).values()
        return max(candidates, key=lambda c: c[1].get_signed_power(), default=None)

    def prune(self, is_cleared: Callable[[WithdrawalKey], bool]) -> None:
        """Forget withdrawals the ledger has cleared (paid or refunded; a signature that
        arrives before this node commits the debit is kept)."""
        for key in [k for k in self.entries if is_cleared(k)]:
            del self.entries[key]
