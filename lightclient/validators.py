"""A validator set as a verifier holds it: each public key's voting power, hashed as the
headers of our engine commit to it (`CometValidatorPowers` in lightclient/cometbft.py
hashes it as CometBFT's do)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Any

from lightclient.commit import has_quorum
from lightclient.crypto import PUBLIC_KEY_BYTES
from lightclient.header import compute_validators_hash
from records.codec import (
    MAX_INT64,
    MAX_VALIDATORS,
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
)


@dataclass(frozen=True)
class ValidatorPowers:
    """A validator set as a verifier holds it: public key -> voting power."""

    powers: tuple[tuple[bytes, int], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[bytes, int]]) -> ValidatorPowers:
        return cls(tuple(sorted(pairs)))

    @cached_property
    def _by_key(self) -> dict[bytes, int]:
        return dict(self.powers)

    @cached_property
    def total_power(self) -> int:
        return sum(p for _, p in self.powers)

    def get_power(self, public_key: bytes) -> int:
        return self._by_key.get(public_key, 0)

    def is_member(self, public_key: bytes) -> bool:
        return public_key in self._by_key

    def is_quorum(self, power: int) -> bool:
        return has_quorum(power, self.total_power)

    @cached_property
    def hash(self) -> bytes:
        """What a header signed by this set commits to (`validators_hash`)."""
        return compute_validators_hash(self.powers)

    def to_wire(self) -> list[Any]:
        return [[key, power] for key, power in self.powers]

    @staticmethod
    def from_wire(obj: Any) -> ValidatorPowers:
        """Canonical only: 1 to MAX_VALIDATORS keys in strictly increasing order, each with
        power of at least 1 (a key without power is not in a set that signs)."""
        pairs = []
        for item in expect_list(obj, "validators", max_len=MAX_VALIDATORS):
            key, power = expect_list(item, "validator", 2)
            pairs.append((expect_bytes(key, "validator.key", PUBLIC_KEY_BYTES),
                          expect_int(power, "validator.power", 1, MAX_INT64)))  # fmt: skip
        if not pairs:
            raise DecodeError("validators", "an empty set")
        if any(a[0] >= b[0] for a, b in pairwise(pairs)):
            raise DecodeError("validators", "keys not in strictly increasing order")
        return ValidatorPowers(tuple(pairs))
