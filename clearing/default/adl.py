"""Auto-deleveraging: close a bankrupt position against profitable opposite ones.

Only positions on the opposite side with positive unrealised PnL are eligible.
They are ranked by profit times leverage, ``pnl/equity * notional/equity``
(compared exactly as fractions; an account with no positive equity ranks
first), ties by (member, sub-account). They close at the bankruptcy price: the
price at which the residual loss ``R`` is absorbed, i.e. the counterparties'
charges sum to ``R`` exactly, split pro rata to the lots each closes (largest
remainder). A counterparty is never charged more than its equity (an account
profitable here may have lost elsewhere): deleveraging puts nobody into default. What
it cannot pay is split again among the other counterparties; what none of them can
pay is left uncharged, as the loss on lots nobody could take is (the house books it).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from clearing.default.waterfall import compute_pro_rata

AccountKey = tuple[bytes, int]


@dataclass(frozen=True, slots=True)
class AdlCandidate:
    account: AccountKey
    quantity: int  # signed lots in the instrument being deleveraged
    unrealised_pnl: int
    equity: int
    notional: int  # |quantity| * mark


@dataclass(frozen=True, slots=True)
class AdlFill:
    account: AccountKey
    quantity: int  # change to the counterparty's position (towards zero)
    charge: int  # paid by the counterparty: (bankruptcy price - mark) * lots


@dataclass(frozen=True, slots=True)
class AdlResult:
    fills: tuple[AdlFill, ...]
    unfilled: int  # defaulter lots no eligible counterparty could take
    uncharged: int  # the loss on unfilled lots, and what exceeded a counterparty's equity


def is_adl_eligible(candidate: AdlCandidate, defaulter_quantity: int) -> bool:
    return candidate.unrealised_pnl > 0 and candidate.quantity * defaulter_quantity < 0


def compute_adl_score(candidate: AdlCandidate) -> Fraction | None:
    """Profit times leverage; None when equity is not positive (unbounded leverage)."""
    if candidate.equity <= 0:
        return None
    pnl = Fraction(candidate.unrealised_pnl, candidate.equity)
    return pnl * Fraction(candidate.notional, candidate.equity)


def get_adl_rank_key(candidate: AdlCandidate) -> tuple[int, Fraction, AccountKey]:
    """Sort key: unbounded leverage first, then the highest score, then the account."""
    score = compute_adl_score(candidate)
    return (0, Fraction(0), candidate.account) if score is None else (1, -score, candidate.account)


def compute_adl_ranking(
    candidates: list[AdlCandidate], defaulter_quantity: int
) -> list[AdlCandidate]:
    eligible = [c for c in candidates if is_adl_eligible(c, defaulter_quantity)]
    return sorted(eligible, key=get_adl_rank_key)


def compute_adl(defaulter_quantity: int, loss: int, candidates: list[AdlCandidate]) -> AdlResult:
    """Close ``defaulter_quantity`` lots against the ranked counterparties, charging ``loss``."""
    need = abs(defaulter_quantity)
    taken: list[tuple[AccountKey, int]] = []
    for c in compute_adl_ranking(candidates, defaulter_quantity):
        if need == 0:
            break
        lots = min(need, abs(c.quantity))
        taken.append((c.account, lots))
        need -= lots
    filled = abs(defaulter_quantity) - need
    charged = loss * filled // abs(defaulter_quantity) if defaulter_quantity else 0
    equity = {c.account: max(c.equity, 0) for c in candidates}
    charges = compute_charges(charged, dict(taken), equity)
    sign = 1 if defaulter_quantity > 0 else -1  # counterparty is short when defaulter is long
    fills = tuple(AdlFill(key, sign * lots, charges[key]) for key, lots in taken)
    return AdlResult(fills, need, loss - sum(charges.values()))


def compute_charges(
    amount: int, lots: dict[AccountKey, int], equity: dict[AccountKey, int]
) -> dict[AccountKey, int]:
    """Split ``amount`` pro rata to ``lots``, no account beyond its ``equity``: what a
    capped account cannot pay is split again among the others, until all of it is
    charged or every account pays all it has."""
    charges = dict.fromkeys(lots, 0)
    left, open_ = amount, dict(lots)
    while left and open_:
        for key, share in compute_pro_rata(left, open_).items():
            take = min(share, equity[key] - charges[key])
            charges[key] += take
            left -= take
        open_ = {key: n for key, n in open_.items() if charges[key] < equity[key]}
    return charges
