"""The default waterfall as a pure function over resources.

A loss left after a defaulter's close-out is met, in order, by: the
defaulter's collateral, its own default-fund contribution, the insurance fund,
the other members' contributions pro rata, assessments of the surviving
members pro rata to what each may still be assessed (a CCP rulebook's
assessment powers, capped by genesis per epoch and, by the caller, by what the
member can pay without falling under margin), and what is left goes to
auto-deleveraging. Invariant: every layer pays at most what it holds and
``loss == sum(paid) + to_adl`` (value is neither created nor destroyed).

Pro rata rounding (largest remainder): each member pays ``floor(R * c / C)``,
then the units left over go one each to the members with the largest
fractional remainders, ties to the lower member address. No member pays more
than its contribution, and the shares add up to ``R`` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class WaterfallResult:
    from_collateral: int
    from_own_contribution: int
    from_insurance: int
    from_members: tuple[tuple[bytes, int], ...]  # sorted by member, non-zero only
    to_adl: int  # left for auto-deleveraging
    from_assessments: tuple[tuple[bytes, int], ...] = ()  # sorted by member, non-zero only

    @property
    def covered(self) -> int:
        return (self.from_collateral + self.from_own_contribution + self.from_insurance
                + sum(a for _, a in self.from_members)
                + sum(a for _, a in self.from_assessments))  # fmt: skip


def compute_pro_rata(amount: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split ``amount >= 0`` by non-negative weight, largest remainder; exact sum.

    With ``amount <= sum(weights)`` no share exceeds its weight.
    """
    total = sum(weights.values())
    assert amount >= 0 and (total > 0 or amount == 0), (amount, total)
    if amount == 0:
        return {k: 0 for k in weights}
    shares = {k: amount * w // total for k, w in weights.items()}
    left = amount - sum(shares.values())
    by_remainder = sorted(weights, key=lambda k: (-(amount * weights[k] % total), k))
    for k in by_remainder[:left]:
        shares[k] += 1
    return shares


def compute_waterfall(
    defaulter: bytes,
    loss: int,
    collateral: int,
    own_contribution: int,
    insurance_fund: int,
    contributions: Mapping[bytes, int],
    assessable: Mapping[bytes, int] | None = None,
) -> WaterfallResult:
    """Run ``loss`` down the layers; ``contributions`` are every member's, defaulter included;
    ``assessable`` is what each member may still be assessed (the defaulter's is ignored)."""
    assert min(loss, collateral, own_contribution, insurance_fund) >= 0
    left = loss
    paid = []
    for available in (collateral, own_contribution, max(insurance_fund, 0)):
        take = min(left, available)
        paid.append(take)
        left -= take
    others = {m: c for m, c in sorted(contributions.items()) if m != defaulter and c > 0}
    mutualised = min(left, sum(others.values()))
    shares = compute_pro_rata(mutualised, others)
    left -= mutualised
    capacity = {m: c for m, c in sorted((assessable or {}).items()) if m != defaulter and c > 0}
    assessed = min(left, sum(capacity.values()))
    assessments = compute_pro_rata(assessed, capacity)
    return WaterfallResult(
        from_collateral=paid[0],
        from_own_contribution=paid[1],
        from_insurance=paid[2],
        from_members=tuple((m, a) for m, a in shares.items() if a),
        to_adl=left - assessed,
        from_assessments=tuple((m, a) for m, a in assessments.items() if a),
    )
