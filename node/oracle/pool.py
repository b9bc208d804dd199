"""The observation pool: the newest checked observation of each validator.

Every node keeps one (its own observations and the gossiped ones, already
checked by `ObservationCheck`). A proposer asks it for a price update: one
`PriceUpdate` of the observations that are fresh for the block time and newer
than the last committed update, only when they hold > 2/3 of the voting power.
So prices move once per sampling round, not once per block.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.attestation import is_quorum
from clearing.oracle import PriceObservation, PriceUpdate


@dataclass(frozen=True)
class FreshnessRule:
    """Which observations a block at `time_ms` may carry."""

    time_ms: int
    max_age_ms: int
    after_ms: int  # the committed price time: only observations newer than it

    def is_fresh(self, o: PriceObservation) -> bool:
        age = abs(self.time_ms - o.observed_ms)
        return o.observed_ms > self.after_ms and age <= self.max_age_ms


class ObservationPool:
    def __init__(self, powers: dict[bytes, int]) -> None:
        self.powers = powers
        self.total_power = sum(powers.values())
        self.latest: dict[bytes, PriceObservation] = {}

    def add(self, observation: PriceObservation) -> bool:
        """Keeps `observation` if it is its signer's newest; True if kept."""
        held = self.latest.get(observation.signer)
        if held is not None and held.observed_ms >= observation.observed_ms:
            return False
        self.latest[observation.signer] = observation
        return True

    def get_fresh(self, rule: FreshnessRule) -> list[PriceObservation]:
        """Fresh observations, ordered by signer (the same pool gives the same update)."""
        return [o for signer, o in sorted(self.latest.items()) if rule.is_fresh(o)]

    def get_power(self, observations: list[PriceObservation]) -> int:
        return sum(self.powers[o.signer] for o in observations)

    def compute_update(self, rule: FreshnessRule) -> PriceUpdate | None:
        """A price update of the fresh observations if they reach quorum, else None."""
        fresh = self.get_fresh(rule)
        if not is_quorum(self.get_power(fresh), self.total_power):
            return None
        return PriceUpdate(tuple(fresh))
