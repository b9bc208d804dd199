"""Withdrawal authorisations: each validator signs, signatures are collected, anyone relays.

After a block debits a member, every validator derives the same
`WithdrawalAuthorization` from the debit record (deterministically: the expiry is the
record's, fixed by clearing from the debiting block's time and the genesis
`withdrawal_ttl_s`, never a clock), signs its EIP-712 digest with its EVM key, and
gossips the signature. `SignatureSet` keeps the valid ones; once they carry > 2/3 of
the vault's validator power, anyone submits them, sorted by signer, to the vault
(bridge/vault.py:withdraw). The vault pays each nonce at most once and never after
the expiry, so re-signing an old-epoch authorisation with the same nonce can never
pay twice, and a withdrawal the vault can no longer pay is refunded by the ledger
(clearing/withdrawal_expiry.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from bridge.eip712 import (
    SignatureError,
    compute_digest,
    compute_withdrawal_struct_hash,
    recover_signer,
    sign_digest,
)
from bridge.validators import EvmValidatorSet, is_quorum
from bridge.wire import FORMAT_VERSION, Versioned
from clearing.state import WithdrawalRecord
from records.declared import (
    Address,
    ChainId,
    Declared,
    EvmSignature,
    Inline,
    Uint,
    Uint256,
    declare_record,
)


class WithdrawalError(Exception):
    """A withdrawal signature or request that cannot be accepted."""


@declare_record
@dataclass(frozen=True)
class WithdrawalAuthorization(Declared):
    """Exactly the fields the vault's `withdraw` checks; addresses are 20 raw bytes."""

    chain_id: ChainId
    vault: Address
    epoch: Uint
    member: Address
    token: Address
    amount: Uint256  # on-chain units (quanta * quantum)
    recipient: Address
    nonce: Uint256
    expiry: Uint  # unix seconds

    def get_digest(self) -> bytes:
        struct_hash = compute_withdrawal_struct_hash(
            self.epoch,
            self.member,
            self.token,
            self.amount,
            self.recipient,
            self.nonce,
            self.expiry,
        )
        return compute_digest(self.chain_id, self.vault, struct_hash)


def compute_withdrawal_authorization(
    record: WithdrawalRecord, *, vault: bytes, epoch: int
) -> WithdrawalAuthorization:
    """The authorisation every validator derives from the same debit record: its
    expiry is the record's, so every validator signs identical bytes and the ledger
    knows when the vault stops paying; the vault's epoch is read from the chain."""
    return WithdrawalAuthorization(
        chain_id=record.chain_id,
        vault=vault,
        epoch=epoch,
        member=record.member,
        token=record.token,
        amount=record.amount,
        recipient=record.recipient,
        nonce=record.nonce,
        expiry=record.expiry,
    )


def sign_withdrawal(auth: WithdrawalAuthorization, evm_private_key: bytes) -> bytes:
    return sign_digest(auth.get_digest(), evm_private_key)


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class WithdrawalSignature(Versioned):
    """One validator's signature over one authorisation: the gossip message, the
    authorisation's fields followed by the signature."""

    authorization: Annotated[WithdrawalAuthorization, Inline()]
    signature: EvmSignature


def sign_withdrawal_record(
    record: WithdrawalRecord, *, vault: bytes, epoch: int, evm_private_key: bytes
) -> WithdrawalSignature:
    """A validator's duty after a block debits `record`: derive and sign its authorisation."""
    auth = compute_withdrawal_authorization(record, vault=vault, epoch=epoch)
    return WithdrawalSignature(auth, sign_withdrawal(auth, evm_private_key))


@dataclass
class SignatureSet:
    """Signatures over one digest from distinct members of one validator set."""

    digest: bytes
    validator_set: EvmValidatorSet
    signatures: dict[bytes, bytes] = field(default_factory=dict)  # signer -> signature

    def add(self, signature: bytes) -> bytes:
        """Verify and keep `signature`; returns its signer. Raises WithdrawalError."""
        try:
            signer = recover_signer(self.digest, signature)
        except SignatureError as exc:
            raise WithdrawalError(f"bad signature: {exc}") from None
        if self.validator_set.get_power(signer) == 0:
            raise WithdrawalError(
                f"signer 0x{signer.hex()} not in validator set epoch {self.validator_set.epoch}"
            )
        self.signatures[signer] = signature
        return signer

    def get_signed_power(self) -> int:
        return sum(self.validator_set.get_power(s) for s in self.signatures)

    def is_complete(self) -> bool:
        return is_quorum(self.get_signed_power(), self.validator_set.total_power)

    def get_ordered(self) -> list[bytes]:
        """Signatures sorted by signer address, strictly ascending as the vault requires."""
        return [self.signatures[s] for s in sorted(self.signatures)]


def get_relay_json(auth: WithdrawalAuthorization, collected: SignatureSet) -> dict[str, object]:
    """What the HTTP API shows a relayer: the vault call's arguments, 0x-hex, ordered."""
    return {
        "chain_id": auth.chain_id,
        "vault": "0x" + auth.vault.hex(),
        "epoch": auth.epoch,
        "member": "0x" + auth.member.hex(),
        "token": "0x" + auth.token.hex(),
        "amount": str(auth.amount),
        "recipient": "0x" + auth.recipient.hex(),
        "nonce": str(auth.nonce),
        "expiry": auth.expiry,
        "signatures": ["0x" + s.hex() for s in collected.get_ordered()],
        "signed_power": collected.get_signed_power(),
        "total_power": collected.validator_set.total_power,
        "complete": collected.is_complete(),
    }


def collect_withdrawal_signatures(
    auth: WithdrawalAuthorization, validator_set: EvmValidatorSet, signatures: Iterable[bytes]
) -> SignatureSet:
    """A SignatureSet of every valid signature in `signatures` (invalid ones skipped)."""
    collected = SignatureSet(auth.get_digest(), validator_set)
    for signature in signatures:
        try:
            collected.add(signature)
        except WithdrawalError:
            continue
    return collected
