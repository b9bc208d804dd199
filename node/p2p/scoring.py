"""Local peer scores: invalid traffic costs points, a peer below the floor is banned for a while.

Kept apart from GossipSub's own scorer so that every rejection reason (oversized,
undecodable, failed validation, bad sync response) is weighed by us, the same
way for gossip and for streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Offence(Enum):
    """Why a peer lost points, and how many (`penalty`).

    The value is the name, not the penalty: members with equal values would be
    aliases of one member and every such offence would be logged by its name.
    """

    OVERSIZED = ("oversized", 50)
    UNDECODABLE = ("undecodable", 25)
    INVALID = ("invalid", 25)
    BAD_RESPONSE = ("bad_response", 25)

    def __init__(self, _label: str, penalty: int) -> None:
        self.penalty = penalty


@dataclass(frozen=True)
class ScoreParams:
    """A peer starting at 0 is banned once its score is at or below `ban_at`."""

    ban_at: int = -100
    reward_per_valid: int = 1
    max_score: int = 100
    ban_s: float = 60.0


@dataclass
class PeerScores:
    """Score per peer id (base58); valid traffic slowly earns back lost points, up to a cap."""

    params: ScoreParams = field(default_factory=ScoreParams)
    _scores: dict[str, int] = field(default_factory=dict)

    def get_score(self, peer: str) -> int:
        return self._scores.get(peer, 0)

    def process_valid(self, peer: str) -> None:
        score = self.get_score(peer) + self.params.reward_per_valid
        self._scores[peer] = min(score, self.params.max_score)

    def process_offence(self, peer: str, offence: Offence) -> bool:
        """Charges the penalty; True exactly when this offence takes the peer to the ban floor."""
        before = self.get_score(peer)
        after = before - offence.penalty
        self._scores[peer] = after
        return before > self.params.ban_at >= after

    def forget(self, peer: str) -> None:
        """A ban served resets the score, so one more offence does not re-ban at once."""
        self._scores.pop(peer, None)


def compute_backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Redial delay after `attempt` consecutive failures: doubling from `base_s`, capped."""
    return float(min(cap_s, base_s * (2 ** min(attempt, 32))))
