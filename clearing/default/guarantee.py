"""The clearing member's guarantee of its clients: the order a client's shortfall is met.

A CCP's counterparty is the clearing member, so a client's loss is its member's: after a
bankrupt client's own collateral (the waterfall's first layer), its clearing member pays
from its house resources (the free equity of its sub-account 0: what it holds above
initial margin, as contributions and assessments are taken, so paying never puts the
member under margin), and only then does the loss reach the default fund, with the
member as the defaulter: its own contribution first, then the insurance fund, then the
other members' contributions and assessments (EMIR art. 45: the defaulter's own
resources before anything mutualised). A member whose house resources fall short of
its guarantee has defaulted (``guarantee_failed``), and its clients are ported
(clearing/default/porting.py).

A default record counts the member's payment in the first layer ("collateral": the
defaulting side's own resources), so its layers still add up to the client's deficit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuaranteePlan:
    from_collateral: int  # the client's own collateral
    from_house: int  # its clearing member's house resources
    left: int  # what runs down the waterfall with the member as the defaulter

    @property
    def is_met(self) -> bool:
        """The member's house covered what the client's collateral did not."""
        return self.left == 0


def compute_guarantee(loss: int, collateral: int, house_free: int) -> GuaranteePlan:
    """Meet ``loss >= 0`` from the client's ``collateral``, then its member's free house
    equity; each pays at most what it holds, and the parts add up to ``loss``."""
    assert min(loss, collateral) >= 0, (loss, collateral)
    from_collateral = min(loss, collateral)
    from_house = min(loss - from_collateral, max(house_free, 0))
    return GuaranteePlan(from_collateral, from_house, loss - from_collateral - from_house)
