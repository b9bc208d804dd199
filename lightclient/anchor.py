"""A state root followed to the chain, as a light client follows it.

The state root after block H is not signed by itself: block H+1's header commits to
it as `prev_state_root`, and H+1's commit certificate carries the precommits of more
than 2/3 of the validators' power for that header's hash. An anchor is that header
and that certificate; checked against the validator set that signs H+1, it proves that
the root is the chain's at height H, whoever handed it over.

A verifier holds one set (the genesis's). The header commits to the set that signs it
(`validators_hash`): when that is not the set held, the set changed since (governance,
jailing) and the anchor is not checked (`ValidatorSetChanged`): following the chain of
set changes from genesis (each header's `next_validators_hash`) is not implemented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lightclient.codec import expect_list
from lightclient.commit import CommitCertificate, InvalidCommit, has_quorum
from lightclient.header import BlockHeader, compute_validators_hash

ANCHOR_VERSION = 1


def get_consensus_chain_id(chain_id: int) -> str:
    """The chain id consensus signs under (votes, headers) for a genesis chain id."""
    return f"clearnode-{chain_id}"


class AnchorError(ValueError):
    """An anchor that does not prove the state root it is offered for."""


class AnchorVersionError(AnchorError):
    def __init__(self, found: object) -> None:
        super().__init__(f"anchor version {found!r} is not {ANCHOR_VERSION}")
        self.found = found


class WrongChain(AnchorError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"the anchor's header is of chain {found!r}, not {expected!r}")
        self.expected = expected
        self.found = found


class WrongHeight(AnchorError):
    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"the anchor's header is of height {found}; the root after block "
            f"{expected - 1} is committed by the header of height {expected}"
        )
        self.expected = expected
        self.found = found


class WrongRoot(AnchorError):
    def __init__(self, expected: bytes, found: bytes) -> None:
        super().__init__(
            f"the anchor's header commits to state root 0x{found.hex()}, not 0x{expected.hex()}"
        )
        self.expected = expected
        self.found = found


class NotTheHeaderCommitted(AnchorError):
    def __init__(self, header: BlockHeader, commit: CommitCertificate) -> None:
        super().__init__(
            f"the certificate commits block 0x{commit.block_hash.hex()} at height "
            f"{commit.height}, not the anchor's header 0x{header.hash.hex()} at height "
            f"{header.height}"
        )
        self.header_hash = header.hash
        self.committed_hash = commit.block_hash


class ValidatorSetChanged(AnchorError):
    """The header is signed by another validator set than the one given: the set changed
    since (the verifier cannot tell a forged header from one of the new set)."""

    def __init__(self, height: int, header_set: bytes, given_set: bytes) -> None:
        super().__init__(
            f"block {height} is signed by the validator set 0x{header_set.hex()[:16]}..., not "
            f"the one given (0x{given_set.hex()[:16]}...): the validator set changed since "
            f"genesis, and following its changes is not implemented"
        )
        self.height = height
        self.header_set = header_set
        self.given_set = given_set


class NotCommitted(AnchorError):
    """The certificate does not carry a quorum of valid precommits."""

    def __init__(self, cause: InvalidCommit) -> None:
        super().__init__(f"the header is not committed: {cause}")
        self.cause = cause


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


@dataclass(frozen=True)
class StateAnchor:
    header: BlockHeader  # block H+1, whose prev_state_root is the root after H
    commit: CommitCertificate  # H+1's precommits

    def to_wire(self) -> list[Any]:
        return [ANCHOR_VERSION, self.header.to_wire(), self.commit.to_wire()]

    @staticmethod
    def from_wire(obj: Any) -> StateAnchor:
        version, header, commit = expect_list(obj, "anchor", 3)
        if type(version) is not int or version != ANCHOR_VERSION:
            raise AnchorVersionError(version)
        return StateAnchor(BlockHeader.from_wire(header), CommitCertificate.from_wire(commit))


def check_anchor(
    anchor: StateAnchor, chain_id: int, height: int, state_root: bytes, validators: ValidatorPowers
) -> None:
    """Raise AnchorError unless `anchor` proves `state_root` is chain `chain_id`'s state
    root after block `height`, committed by a quorum of `validators` (ValidatorSetChanged
    when the header is signed by another set)."""
    expected_chain = get_consensus_chain_id(chain_id)
    header, commit = anchor.header, anchor.commit
    if header.chain_id != expected_chain:
        raise WrongChain(expected_chain, header.chain_id)
    if header.height != height + 1:
        raise WrongHeight(height + 1, header.height)
    if header.prev_state_root != state_root:
        raise WrongRoot(state_root, header.prev_state_root)
    if commit.height != header.height or commit.block_hash != header.hash:
        raise NotTheHeaderCommitted(header, commit)
    if header.validators_hash != validators.hash:
        raise ValidatorSetChanged(header.height, header.validators_hash, validators.hash)
    try:
        commit.verify(expected_chain, validators)
    except InvalidCommit as exc:
        raise NotCommitted(exc) from None
