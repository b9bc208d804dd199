"""Why a validator-set change is refused (each carries its numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.errors import InvalidTransaction


@dataclass(eq=False)
class UnknownValidator(InvalidTransaction):
    pubkey: bytes


@dataclass(eq=False)
class ValidatorListed(InvalidTransaction):
    """The consensus key, or the EVM address, already belongs to a validator (jailed
    ones included): ``field`` says which."""

    field: str
    value: bytes


@dataclass(eq=False)
class ValidatorJailed(InvalidTransaction):
    """A jailed validator's power or keys change only after it is unjailed."""

    pubkey: bytes
    evidence_height: int


@dataclass(eq=False)
class ValidatorNotJailed(InvalidTransaction):
    pubkey: bytes


@dataclass(eq=False)
class InvalidValidator(InvalidTransaction):
    """A validator entry fails the genesis rules: ``key`` is not ``expected``."""

    key: str
    expected: str
    got: object


@dataclass(eq=False)
class ValidatorSetSize(InvalidTransaction):
    """The set would hold ``count`` validators (jailed ones included) and ``power`` voting
    power: it needs 1 to ``limit`` validators and some power (an empty set halts)."""

    count: int
    power: int
    limit: int


@dataclass(eq=False)
class NoValidatorChange(InvalidTransaction):
    """A change that would leave the validator as it is (the same power, the same keys)."""

    pubkey: bytes


@dataclass(eq=False)
class EvidenceStillFresh(InvalidTransaction):
    """A validator is unjailed from height ``earliest`` on: before, the evidence that
    jailed it (of ``evidence_height``) could be committed again and jail it again."""

    pubkey: bytes
    evidence_height: int
    earliest: int
