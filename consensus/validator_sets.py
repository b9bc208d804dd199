"""The validator sets an engine looks up: each height's, advanced one height at a time
from genesis as every peer advances them, with the application's set after block `h`
taking effect at `h + 2` (so a restarted or restored node computes the same sets).

Only the window a height needs is kept: the next height's (its proposer is known when
this one commits), this height's, and those of the MAX_EVIDENCE_AGE_BLOCKS heights whose
evidence this height's block may commit. Keeping every height's set grew a node by one
set a block, for as long as it ran.

A restart need not walk from genesis: every CHECKPOINT_INTERVAL heights the engine
stores the first set a restart would ask for, priorities and all (`ValidatorCheckpoint`,
as CometBFT's state store keeps a set every 100,000 heights), and starts from it. The
walk costs about 5 µs a height: 156 s per start after a year at a block a second
(`python -m bench restart`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from consensus.block_store import BlockStore
from consensus.types import ValidatorSet, Voter
from records.codec import MAX_EVIDENCE_AGE_BLOCKS, DecodeError, unpack
from records.declared import Declared, Int, declare_record

log = logging.getLogger(__name__)

SETS_KEPT = MAX_EVIDENCE_AGE_BLOCKS + 2
"""From the oldest height whose evidence a block may commit to the next height."""

CHECKPOINT_INTERVAL = 10_000
"""Heights between stored checkpoints: a restart walks at most this many (about 50 ms)."""

CHECKPOINT_VERSION = 1


class ValidatorSetForgotten(LookupError):
    """A set older than the window was asked for: no caller within the engine's rules
    asks for one, so this is a bug, never a peer's doing."""

    def __init__(self, height: int, first_kept: int) -> None:
        super().__init__(
            f"the validator set of height {height} is forgotten: the first kept is {first_kept}"
        )
        self.height = height
        self.first_kept = first_kept


class ValidatorSets:
    """Height -> validator set, computed on demand up to the height asked for, from the
    set of `first_height` (genesis's, or a checkpoint's)."""

    def __init__(
        self,
        first: ValidatorSet,
        get_update: Callable[[int], tuple[Voter, ...] | None],
        kept: int = SETS_KEPT,
        first_height: int = 1,
    ) -> None:
        self._get_update = get_update
        self._kept = kept
        self._sets = {first_height: first}
        self._latest = first_height

    def get(self, height: int) -> ValidatorSet:
        """The set of `height`. Needs block `height - 2` committed."""
        while self._latest < height:
            self._advance()
        found = self._sets.get(height)
        if found is None:
            raise ValidatorSetForgotten(height, min(self._sets))
        return found

    def _advance(self) -> None:
        following = self._latest + 1
        previous = self._sets[self._latest]
        update = self._get_update(following - 2) if following > 2 else None
        self._sets[following] = (
            previous.next_height() if update is None else previous.compute_updated(update)
        )
        self._sets.pop(following - self._kept, None)
        self._latest = following


@declare_record(head=CHECKPOINT_VERSION)
@dataclass(frozen=True, slots=True)
class ValidatorCheckpoint(Declared):
    """The validator set of `height` as the engine computed it: what a restart starts
    from. The node's own derived data, never a peer's: a node restored by state sync
    walks from genesis once, then checkpoints as it goes."""

    height: Annotated[int, Int(1)]
    validator_set: ValidatorSet

    @staticmethod
    def decode(data: bytes) -> ValidatorCheckpoint:
        checkpoint = ValidatorCheckpoint.from_fields(unpack(data, "validator checkpoint"))
        count = len(checkpoint.validator_set.validators)
        priorities = len(checkpoint.validator_set.priorities)
        proposer = checkpoint.validator_set.proposer_index
        if priorities != count or proposer >= count:
            raise DecodeError(
                "validator checkpoint",
                f"{priorities} priorities and proposer index {proposer} of {count} validators",
            )
        return checkpoint


class ValidatorCheckpoints:
    """The checkpoints of one engine's store: the one a restart starts from, and a new
    one every `interval` heights."""

    def __init__(self, store: BlockStore, interval: int) -> None:
        self.store = store
        self.interval = interval
        self.height = 1
        """The height of the set a restart now starts from (1: genesis's)."""

    def load(self, first: ValidatorSet) -> ValidatorCheckpoint:
        """The stored checkpoint, if a restart after the stored blocks asks for no older
        set; else genesis's set `first`, and the sets are walked from there."""
        checkpoint = self._load_stored() or ValidatorCheckpoint(1, first)
        self.height = checkpoint.height
        return checkpoint

    def _load_stored(self) -> ValidatorCheckpoint | None:
        data = self.store.load_validator_checkpoint()
        if data is None:
            return None
        first_asked = self.store.get_height() + 1 - MAX_EVIDENCE_AGE_BLOCKS
        try:
            checkpoint = ValidatorCheckpoint.decode(data)
        except DecodeError as exc:
            log.warning("validator checkpoint unreadable, walking from genesis: %s", exc)
            return None
        if checkpoint.height > first_asked:
            log.warning(
                "validator checkpoint of height %d is past the first height asked, %d: "
                "walking from genesis",
                checkpoint.height,
                first_asked,
            )
            return None
        return checkpoint

    def save_if_due(self, height: int, sets: ValidatorSets) -> None:
        """As `height` starts (block `height - 1` stored), every `interval` heights: the
        first set a restart from here would ask for."""
        first_asked = height - MAX_EVIDENCE_AGE_BLOCKS
        if first_asked < self.height + self.interval:
            return
        checkpoint = ValidatorCheckpoint(first_asked, sets.get(first_asked))
        self.store.save_validator_checkpoint(checkpoint.encode())
        self.height = first_asked
