"""The validator set a vault knows: EVM addresses with voting power, per epoch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ValidatorSetError(Exception):
    """A validator set that a vault would refuse (empty, zero power, duplicate)."""


def is_quorum(signed_power: int, total_power: int) -> bool:
    """Strictly more than 2/3 of the power, by cross-multiplication (no division)."""
    return 3 * signed_power > 2 * total_power


@dataclass(frozen=True)
class EvmValidatorSet:
    """`members` sorted strictly ascending by address, each with power > 0."""

    epoch: int
    members: tuple[tuple[bytes, int], ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise ValidatorSetError("empty validator set")
        for index, (address, power) in enumerate(self.members):
            if len(address) != 20 or power <= 0:
                raise ValidatorSetError(f"member {index}: address {address.hex()} power {power}")
            if index and address <= self.members[index - 1][0]:
                raise ValidatorSetError(f"member {index}: addresses not strictly ascending")

    @classmethod
    def from_members(cls, epoch: int, members: Iterable[tuple[bytes, int]]) -> EvmValidatorSet:
        return cls(epoch, tuple(sorted(members)))

    @property
    def addresses(self) -> list[bytes]:
        return [address for address, _ in self.members]

    @property
    def powers(self) -> list[int]:
        return [power for _, power in self.members]

    @property
    def total_power(self) -> int:
        return sum(self.powers)

    def get_power(self, address: bytes) -> int:
        return dict(self.members).get(address, 0)
