"""What every node pools from the `bridge` topic besides deposit attestations
(bridge.observation.ObservationPool): payout attestations until they carry a
quorum, and validators' EVM signatures per pending withdrawal.

Both group by the exact signed content, so a validator that signed different
bytes (another epoch, a forged amount) never adds power to the honest set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bridge.validators import EvmValidatorSet
from bridge.withdrawal import SignatureSet, WithdrawalAuthorization, WithdrawalSignature
from clearing.attestation import Attestation, is_quorum
from clearing.withdrawal import PayoutObservation, WithdrawalPaid
from node.collateral.gossip import PayoutAttestation

LogKey = tuple[int, bytes, int]  # (chain id, tx hash, log index)
WithdrawalKey = tuple[bytes, int]  # (member, nonce)


@dataclass
class PayoutPool:
    """Payout attestations (each already checked) by log, then by exact content."""

    powers: Mapping[bytes, int]  # Ed25519 public key -> power
    entries: dict[LogKey, dict[PayoutObservation, dict[bytes, Attestation]]] = field(
        default_factory=dict
    )

    def add(self, payout: PayoutAttestation) -> bool:
        """Keep one validator's attestation; True when it is new."""
        o = payout.observation
        by_signer = self.entries.setdefault((o.chain_id, o.tx_hash, o.log_index), {})
        signers = by_signer.setdefault(o, {})
        if payout.attestation.signer in signers:
            return False
        signers[payout.attestation.signer] = payout.attestation
        return True

    def get_ready(self) -> list[WithdrawalPaid]:
        """One WithdrawalPaid per log whose attestations on one content reach quorum."""
        total = sum(self.powers.values())
        ready = []
        for key in sorted(self.entries):
            for observation, signers in self.entries[key].items():
                if is_quorum(sum(self.powers.get(s, 0) for s in signers), total):
                    ordered = tuple(signers[s] for s in sorted(signers))
                    ready.append(WithdrawalPaid(observation, ordered))
                    break
        return ready

    def prune(self, is_paid: Callable[[WithdrawalKey], bool]) -> None:
        """Forget the logs of withdrawals the ledger has cleared as paid."""
        for key in list(self.entries):
            if all(is_paid((o.member, o.nonce)) for o in self.entries[key]):
                del self.entries[key]


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

    def prune(self, is_paid: Callable[[WithdrawalKey], bool]) -> None:
        """Forget withdrawals the ledger has cleared as paid (a signature that arrives
        before this node commits the debit is kept)."""
        for key in [k for k in self.entries if is_paid(k)]:
            del self.entries[key]
