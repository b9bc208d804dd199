"""What the public views may show of a sum over members' figures (docs/privacy.md).

A sum over one member is that member's figure, and a sum over two lets each read the
other's; statistical disclosure control withholds such cells. So a public view shows a
sum only when at least `min_public_contributors` members (genesis, default 3) have a
figure in it, and otherwise says so instead (`withheld: fewer than 3 contributors`).
Subtraction is the other way in: two sums shown side by side whose members differ in
fewer than k figures give those few figures as their difference (the default fund
required, less the fund posted while all but one member posted exactly its requirement,
is that member's requirement), so the pair is withheld by the same rule, counted over the
members whose figures differ. The operator listener shows every sum exactly.
"""

from __future__ import annotations

from clearing.state import ClearingState


def get_min_contributors(state: ClearingState) -> int:
    return state.genesis.min_public_contributors


def get_withheld(contributors: int, k: int) -> str | None:
    """Why a public view withholds a sum over `contributors` members' non-zero figures, or
    None to show it (a sum over nobody is 0, which names no one)."""
    if 0 < contributors < k:
        return f"withheld: fewer than {k} contributors"
    return None


def get_withheld_difference(differing: int, k: int) -> str | None:
    """Why a public view withholds one of two sums shown together whose members' figures
    differ for `differing` members (their difference is the sum of those differences)."""
    if 0 < differing < k:
        return f"withheld: its difference to another figure shown is fewer than {k} members'"
    return None
