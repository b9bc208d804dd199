"""The validator sets an engine looks up: each height's, advanced one height at a time
from genesis as every peer advances them, with the application's set after block `h`
taking effect at `h + 2` (so a restarted or restored node computes the same sets).

Only the window a height needs is kept: the next height's (its proposer is known when
this one commits), this height's, and those of the MAX_EVIDENCE_AGE_BLOCKS heights whose
evidence this height's block may commit. Keeping every height's set grew a node by one
set a block, for as long as it ran.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.types import ValidatorSet, Voter
from lightclient.codec import MAX_EVIDENCE_AGE_BLOCKS

SETS_KEPT = MAX_EVIDENCE_AGE_BLOCKS + 2
"""From the oldest height whose evidence a block may commit to the next height."""


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
    """Height -> validator set, computed on demand up to the height asked for."""

    def __init__(
        self,
        first: ValidatorSet,
        get_update: Callable[[int], tuple[Voter, ...] | None],
        kept: int = SETS_KEPT,
    ) -> None:
        self._get_update = get_update
        self._kept = kept
        self._sets = {1: first}
        self._latest = 1

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
