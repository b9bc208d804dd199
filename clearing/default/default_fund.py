"""Cover-N default fund: size, members' required contributions, reduce-only.

A member's uncollateralised stress exposure is ``sum over its sub-accounts, and its
clients' (clearing/roles.py), of max(0, worst stress loss - IM)``: a client owes no
contribution, its clearing member owes for it. The fund is the sum of the N largest
exposures (Cover-2 by default); each member's required contribution is the fund
split pro rata to exposure (largest remainder, so the parts add up exactly).
A member with no positions has no exposure and owes nothing. A member whose
posted contribution is below its requirement becomes reduce-only.
"""

from __future__ import annotations

from collections.abc import Mapping

from clearing.clients import get_clearing_member
from clearing.default.events import DefaultEvent, EventKind
from clearing.default.waterfall import compute_pro_rata
from clearing.risk.arrays import RiskArrays
from clearing.risk.errors import ReduceOnly
from clearing.risk.margin import compute_initial_margin, compute_scenario_losses
from clearing.state import ClearingState, Member

AccountKey = tuple[bytes, int]


def compute_stress_exposure(stress_loss: int, initial_margin: int) -> int:
    return max(0, stress_loss - initial_margin)


def compute_fund_size(exposures: Mapping[bytes, int], cover: int) -> int:
    return sum(sorted(exposures.values(), reverse=True)[:cover])


def compute_required_contributions(exposures: Mapping[bytes, int], cover: int) -> dict[bytes, int]:
    """Every member's requirement; zero exposure -> zero requirement."""
    size = compute_fund_size(exposures, cover)
    if size == 0:
        return {m: 0 for m in sorted(exposures)}
    return compute_pro_rata(size, {m: exposures[m] for m in sorted(exposures)})


def is_reduce_only(required: int, posted: int) -> bool:
    return posted < required


def is_guarantor_reduce_only(state: ClearingState, member: Member) -> bool:
    """The member's clearing member (itself unless it is a client) has posted less than
    its required contribution: a client's positions count in its member's requirement,
    so they may not grow either (trades and auction bids alike)."""
    guarantor = state.members.get(get_clearing_member(state, member.address), member)
    return is_reduce_only(guarantor.default_fund_required, guarantor.default_fund)


def is_growing(quantity_before: int, quantity_after: int) -> bool:
    """The change grows a position or flips its side (what reduce-only refuses)."""
    return abs(quantity_after) > abs(quantity_before) or quantity_before * quantity_after < 0


def check_reduce_only(member: bytes, before: Mapping[str, int], after: Mapping[str, int]) -> None:
    """Reject any change that grows a position or flips its side."""
    for iid in sorted(set(before) | set(after)):
        q0, q1 = before.get(iid, 0), after.get(iid, 0)
        if is_growing(q0, q1):
            raise ReduceOnly(member, iid, q0, q1)


def process_default_fund_epoch(
    holdings: Mapping[AccountKey, Mapping[str, int]],
    margin_arrays: RiskArrays,
    stress_arrays: RiskArrays,
    posted: Mapping[bytes, int],
    cover: int,
) -> tuple[dict[bytes, int], tuple[bytes, ...], tuple[DefaultEvent, ...]]:
    """Size the fund from this epoch's arrays: (required, reduce-only members, events)."""
    exposures = compute_member_exposures(holdings, margin_arrays, stress_arrays)
    for member in posted:
        exposures.setdefault(member, 0)
    required = compute_required_contributions(exposures, cover)
    return required, *get_contribution_events(required, posted)


def compute_member_exposures(
    holdings: Mapping[AccountKey, Mapping[str, int]],
    margin_arrays: RiskArrays,
    stress_arrays: RiskArrays,
    guarantors: Mapping[bytes, bytes] | None = None,
) -> dict[bytes, int]:
    """Uncollateralised stress exposure per member, summed over its sub-accounts and
    those of the clients it guarantees (``guarantors``: client -> clearing member)."""
    exposures: dict[bytes, int] = {}
    for (owner, _sub), lots in sorted(holdings.items()):
        member = (guarantors or {}).get(owner, owner)
        im = compute_initial_margin(compute_scenario_losses(lots, margin_arrays))
        stress = compute_initial_margin(compute_scenario_losses(lots, stress_arrays))
        exposures[member] = exposures.get(member, 0) + compute_stress_exposure(stress, im)
    return exposures


def get_contribution_events(
    required: Mapping[bytes, int], posted: Mapping[bytes, int]
) -> tuple[tuple[bytes, ...], tuple[DefaultEvent, ...]]:
    """Reduce-only members (posted < required) and the sizing events."""
    events = [DefaultEvent(EventKind.CONTRIBUTION_REQUIRED, m, -1, r) for m, r in required.items()]
    reduce_only = tuple(m for m, r in required.items() if is_reduce_only(r, posted.get(m, 0)))
    events += [
        DefaultEvent(EventKind.REDUCE_ONLY, m, -1, required[m] - posted.get(m, 0))
        for m in reduce_only
    ]
    return reduce_only, tuple(events)
