"""May a sub-account give up value (withdrawal, transfer out)?

Equity = cash + haircut value of collateral (positions are settled into cash
every block by variation margin). A debit is eligible when equity after it is
at least ``get_debit_requirement``: the sub-account's initial margin, and while
it has open auction bids, their bid requirement (default/bid_hold.py), so value
never leaves an account that would then be under-margined or could no longer
honour a binding bid. A clearing member's sub-account 0, which pays its clients' losses
in full before anything mutualised (default/guarantee.py), also keeps what its clients
are short of their own initial margin: a client's shortfall counts against its
member's margin.
"""

from __future__ import annotations

from clearing.assets import CollateralKey
from clearing.clients import get_clients
from clearing.default.bid_hold import check_bids_held_after_debit, get_bid_requirement
from clearing.errors import InsufficientEquity
from clearing.risk.engine import get_initial_margin_requirement
from clearing.state import (
    ClearingState,
    SubAccount,
    get_account_equity,
    get_collateral_value,
    get_value_per_quantum,
)


def get_debit_requirement(state: ClearingState, member: bytes, sub_account: int) -> int:
    """Equity a sub-account must keep after a debit: its margin requirement, or what its
    open bids hold if that is more."""
    return max(
        get_margin_requirement(state, member, sub_account),
        get_bid_requirement(state, member, sub_account),
    )


def get_margin_requirement(state: ClearingState, member: bytes, sub_account: int) -> int:
    """Initial margin, and for a clearing member's sub-account 0 its clients' shortfall."""
    requirement = get_initial_margin_requirement(state, member, sub_account)
    if sub_account == 0:
        requirement += get_clients_shortfall(state, member)
    return requirement


def get_clients_shortfall(state: ClearingState, member: bytes) -> int:
    """How far the member's clients' sub-accounts are below their initial margin, in all."""
    shortfall = 0
    for client, _ in get_clients(state, member):
        record = state.members.get(client)
        for sub, account in sorted(record.sub_accounts.items()) if record is not None else ():
            im = get_initial_margin_requirement(state, client, sub)
            shortfall += max(im - get_account_equity(state, account), 0)
    return shortfall


def check_debit_eligibility(
    state: ClearingState,
    member: bytes,
    sub_account: int,
    account: SubAccount,
    cash_debit: int,
    collateral_debit: tuple[CollateralKey, int] | None,
) -> None:
    """Raise ``InsufficientEquity`` if the debit leaves equity below initial margin,
    ``OpenBidUncovered`` if below what the sub-account's open bids hold."""
    equity_after = account.cash - cash_debit + get_collateral_value(state, account)
    if collateral_debit is not None:
        key, quanta = collateral_debit
        equity_after -= quanta * get_value_per_quantum(state, key)
    requirement = get_margin_requirement(state, member, sub_account)
    if equity_after < requirement:
        raise InsufficientEquity(member, sub_account, equity_after, requirement)
    check_bids_held_after_debit(state, member, sub_account, equity_after)
