"""Commit certificates: the precommits of more than 2/3 of voting power for one block.

Consensus makes them; anyone holding the validator set checks one, with no other
state: a node catching up, and a member's verifier following the chain to a
solvency report's state root (lightclient.anchor).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Protocol

from lightclient.crypto import compute_hash, is_valid_signature
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_INT64,
    MAX_VALIDATORS,
    WIRE_VERSION,
    pack,
    unpack,
)
from records.declared import (
    Declared,
    EdSignature,
    Hash,
    Int,
    Items,
    PublicKey,
    declare_record,
)

DOMAIN_VOTE = b"clearnode/consensus/vote/v1\x00"


class VoteType(enum.IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


def compute_vote_sign_bytes(
    chain_id: str, vote_type: VoteType, height: int, round_: int, block_hash: bytes | None
) -> bytes:
    return DOMAIN_VOTE + pack([WIRE_VERSION, chain_id, int(vote_type), height, round_, block_hash])


def has_quorum(power: int, total_power: int) -> bool:
    """Strictly more than 2/3 of total power (cross-multiplied: no rounding)."""
    return 3 * power > 2 * total_power


class VotingPowers(Protocol):
    """What checking a quorum needs of a validator set."""

    @property
    def total_power(self) -> int: ...

    def get_power(self, public_key: bytes) -> int: ...

    def is_member(self, public_key: bytes) -> bool: ...

    def is_quorum(self, power: int) -> bool: ...


class InvalidCommit(ValueError):
    """A commit certificate that does not prove a quorum of precommits."""

    def __init__(self, reason: str, height: int, signed_power: int = 0, total_power: int = 0):
        super().__init__(
            f"invalid commit at height {height}: {reason} "
            f"(signed power {signed_power} of total {total_power})"
        )
        self.reason = reason
        self.height = height
        self.signed_power = signed_power
        self.total_power = total_power


@declare_record
@dataclass(frozen=True, slots=True)
class CommitSig(Declared):
    validator: PublicKey
    signature: EdSignature


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)  # no slots: `hash` is a cached_property
class CommitCertificate(Declared):
    """Precommits of more than 2/3 of power for one block at (height, round)."""

    height: Annotated[int, Int(1, MAX_INT64)]
    round: Annotated[int, Int(0, 2**31)]
    block_hash: Hash
    signatures: Annotated[tuple[CommitSig, ...], Items(max_length=MAX_VALIDATORS)]

    def to_wire(self) -> list[Any]:
        """What an anchor writes of either engine's commit (CometBFT's has its own)."""
        return self.to_fields()

    @staticmethod
    def decode(data: bytes) -> CommitCertificate:
        return CommitCertificate.from_fields(unpack(data, "commit", MAX_CONSENSUS_MESSAGE_BYTES))

    @cached_property
    def hash(self) -> bytes:
        return compute_hash(self.encode())

    def get_signers(self, validators: VotingPowers) -> list[bytes]:
        return [s.validator for s in self.signatures if validators.is_member(s.validator)]

    def verify(self, chain_id: str, validators: VotingPowers) -> None:
        """Raise InvalidCommit unless distinct members signed with more than 2/3 of power."""
        message = compute_vote_sign_bytes(
            chain_id, VoteType.PRECOMMIT, self.height, self.round, self.block_hash
        )
        seen: set[bytes] = set()
        power = 0
        for sig in self.signatures:
            if sig.validator in seen:
                raise InvalidCommit("duplicate signer", self.height)
            if not validators.is_member(sig.validator):
                raise InvalidCommit("signer outside the validator set", self.height)
            if not is_valid_signature(sig.validator, message, sig.signature):
                raise InvalidCommit("bad precommit signature", self.height)
            seen.add(sig.validator)
            power += validators.get_power(sig.validator)
        if not validators.is_quorum(power):
            raise InvalidCommit("no quorum", self.height, power, validators.total_power)
