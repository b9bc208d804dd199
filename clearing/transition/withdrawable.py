"""How much a sub-account can withdraw now, per chain and token (the account query's
``withdrawable``): the same rules ``process_withdrawal`` checks, as amounts.

Nothing leaves while a deficit is uncovered. Otherwise a token is bounded by what
the sub-account holds of it and by its free equity (equity above initial margin)
at the token's value; the settlement token adds positive cash, up to what the
chain's vault holds for cash.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.assets import CollateralKey
from clearing.default.house import get_uncovered_deficit
from clearing.state import (
    ClearingState,
    SubAccount,
    get_account_equity,
    get_value_per_quantum,
    is_settlement_token,
)
from clearing.transition.eligibility import get_debit_requirement


@dataclass(frozen=True, slots=True)
class Withdrawable:
    key: CollateralKey
    quanta: int  # the most a withdrawal of this token may ask for now
    from_cash: int  # of which paid from cash (settlement token only)


def get_withdrawable(
    state: ClearingState, member: bytes, sub_account: int, account: SubAccount
) -> list[Withdrawable]:
    """Every token the sub-account holds, and the settlement token on every chain."""
    keys = sorted(set(account.collateral) | set(state.genesis.settlement_asset.tokens))
    if get_uncovered_deficit(state):
        return [Withdrawable(key, 0, 0) for key in keys]
    equity = get_account_equity(state, account)
    free = max(equity - get_debit_requirement(state, member, sub_account), 0)
    return [_get_one(state, account, key, free) for key in keys]


def _get_one(
    state: ClearingState, account: SubAccount, key: CollateralKey, free: int
) -> Withdrawable:
    held = account.collateral.get(key, 0)
    value = get_value_per_quantum(state, key)
    if not is_settlement_token(state, key):
        return Withdrawable(key, held if value == 0 else min(held, free // value), 0)
    cash = min(max(account.cash, 0), state.settlement_reserves.get(key[0], 0))
    total = min(held + cash, free)
    return Withdrawable(key, total, max(total - held, 0))
