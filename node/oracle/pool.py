"""The price observation pool: the newest checked price observation of each validator.

Every node keeps one (its own observations and the gossiped ones, already
checked by `ObservationCheck`). A proposer asks it for a price update: one
`PriceUpdate` of the observations the block will count (clearing's `FreshnessRule`:
fresh for the block time, newer than the last committed update and than their
signer's newest applied), only when they hold > 2/3 of the voting power of the
validator set in force (the committed state's, which clearing checks it with).
So prices move once per sampling round, not once per block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from clearing.attestation import is_quorum
from clearing.genesis import Validator
from clearing.oracle import FreshnessRule, PriceObservation, PriceUpdate
from clearing.validator_set import get_voting_powers


class PriceObservationPool:
    """`validators`: the records in force (the committed state's), read at each use. A
    signer counts with its power there; one without any (removed or jailed since its
    observation was pooled) is left out of updates, which clearing would refuse whole."""

    def __init__(self, validators: Callable[[], Mapping[bytes, Validator]]) -> None:
        self.validators = validators
        self.latest: dict[bytes, PriceObservation] = {}

    def add(self, observation: PriceObservation) -> bool:
        """Keeps `observation` if it is its signer's newest; True if kept."""
        held = self.latest.get(observation.signer)
        if held is not None and held.observed_ms >= observation.observed_ms:
            return False
        self.latest[observation.signer] = observation
        return True

    def get_powers(self) -> dict[bytes, int]:
        """The voting power of each validator in force that has some."""
        return get_voting_powers(self.validators())

    def get_fresh(self, rule: FreshnessRule) -> list[PriceObservation]:
        """Fresh observations of validators with power, ordered by signer (the same pool
        and set give the same update)."""
        powers = self.get_powers()
        return [o for signer, o in sorted(self.latest.items())
                if signer in powers and rule.is_fresh(o)]  # fmt: skip

    def get_power(self, observations: list[PriceObservation]) -> int:
        powers = self.get_powers()
        return sum(powers.get(o.signer, 0) for o in observations)

    def compute_update(self, rule: FreshnessRule) -> PriceUpdate | None:
        """A price update of the fresh observations if they reach quorum, else None."""
        fresh = self.get_fresh(rule)
        if not is_quorum(self.get_power(fresh), sum(self.get_powers().values())):
            return None
        return PriceUpdate(tuple(fresh))
