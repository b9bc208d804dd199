"""The clearing member's guarantee of its clients: the order a client's shortfall is met.

A CCP's counterparty is the clearing member, so a client's loss is its member's: after a
bankrupt client's own collateral (the waterfall's first layer), its clearing member's
house (sub-account 0) pays the rest in full, from whatever it holds, its margin
included. A house left with negative equity by that payment has defaulted
(``guarantee_failed``): it is liquidated at once as its own default (its positions
handed over at the mark, its collateral seized, then its own default-fund
contribution, the insurance fund, the other members' contributions and assessments),
so every resource of the defaulter comes before anything mutualised (EMIR art. 45),
and its clients are ported (clearing/default/porting.py, which finds the member's
default record). A house left solvent but under its margin is margined as any account
is, from the next block on.

The client's default record counts the member's payment in the first layer
("collateral": the defaulting side's own resources), so its layers add up to the
client's deficit; a member that could not pay has a default record of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuaranteePlan:
    from_collateral: int  # the client's own collateral
    from_house: int  # its clearing member's house, whatever that leaves it with


def compute_guarantee(loss: int, collateral: int) -> GuaranteePlan:
    """Meet ``loss >= 0`` from the client's ``collateral``, then its member's house: the
    parts add up to ``loss``."""
    assert min(loss, collateral) >= 0, (loss, collateral)
    from_collateral = min(loss, collateral)
    return GuaranteePlan(from_collateral, loss - from_collateral)
