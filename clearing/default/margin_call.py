"""Margin calls: a sub-account below initial margin but above maintenance is called.

As in a CCP rulebook, at the end of a block (after expiries, before liquidation)
each sub-account (the clearing house's aside) is looked at in turn:

- equity in [MM, IM) and no call open: a call opens (event ``margin_call``) for
  ``amount_due = IM - equity`` at that moment, due by the end of block
  ``deadline_height = height + risk.margin_call.deadline_blocks``;
- a call open and equity >= IM: the call is met and closes (``margin_call_met``);
- a call open at its deadline block and equity still < IM: ``margin_call_expired``.
  The call stays open and overdue: the liquidation step liquidates the account
  even though its equity may be >= MM, and closes the call (``margin_call_closed``);
- equity < MM: liquidation as for any account below maintenance; liquidating an
  account closes its call (``margin_call_closed``).

While a call is open the sub-account may only reduce positions (``check_margin_call``,
from the trade path); withdrawals and transfers out already require IM.

The common block (nobody between MM and IM, no call open) costs one pass over
the sub-accounts with positions, no snapshot of the book (and with no positions at all,
no risk arrays: an idle network's block would otherwise price every option of the
scan, the arrays moving with the block time): where equity covers an
``O(positions)`` bound of IM (``compute_initial_margin_bound``) no scenario vector
is built; elsewhere IM comes through the kept figures, and a vector computed
here serves the liquidation scan that follows (``get_scanned_initial_margin``).
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.default.default_fund import is_growing
from clearing.default.liquidation import AccountKey
from clearing.events import Event, make_event
from clearing.risk.engine import (
    INSURANCE_MEMBER,
    get_quantities,
    get_risk_setup,
    get_scanned_initial_margin,
    get_worst_losses,
)
from clearing.risk.errors import MarginCallReduceOnly
from clearing.risk.margin import compute_initial_margin_bound, is_maintenance_met
from clearing.state import (
    ClearingState,
    MarginCall,
    get_account_equity,
    get_sub_account_for_write,
)


def process_margin_calls(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """Open, meet and expire margin calls at the settled equity of this block."""
    setup = get_risk_setup(state)
    if setup is None:
        return []
    k_num, k_den = setup.params.k_num, setup.params.k_den
    deadline_blocks = setup.params.margin_call.deadline_blocks
    worst: dict[str, int] | None = None  # a book with no positions needs no risk arrays
    events: list[tuple[AccountKey, Event]] = []
    for address, member in state.members.items():
        if address == INSURANCE_MEMBER:
            continue
        for sub, account in member.sub_accounts.items():
            call = account.margin_call
            if call is None and not account.positions:
                continue
            equity = get_account_equity(state, account)
            if call is None:
                if worst is None:
                    worst = get_worst_losses(state, setup)
                if equity >= compute_initial_margin_bound(get_quantities(account), worst):
                    continue  # the common account: IM surely covered, no vector needed
            im = get_scanned_initial_margin(state, address, sub, account)
            key = (address, sub)
            if call is None:
                if equity < im and is_maintenance_met(equity, im, k_num, k_den):
                    opened = MarginCall(im - equity, ctx.height, ctx.height + deadline_blocks)
                    events.append((key, _open(state, key, opened, equity, im)))
            elif equity >= im:
                events.append((key, _meet(state, key, call, equity, im)))
            elif ctx.height == call.deadline_height:
                events.append((key, _call_event("margin_call_expired", key, call, equity, im)))
    # Members iterate in insertion order, which a snapshot restore changes: sort.
    return [event for _, event in sorted(events, key=lambda item: item[0])]


def _open(state: ClearingState, key: AccountKey, call: MarginCall, equity: int, im: int) -> Event:
    get_sub_account_for_write(state, *key).margin_call = call
    return _call_event("margin_call", key, call, equity, im)


def _meet(state: ClearingState, key: AccountKey, call: MarginCall, equity: int, im: int) -> Event:
    get_sub_account_for_write(state, *key).margin_call = None
    return _call_event("margin_call_met", key, call, equity, im)


def _call_event(kind: str, key: AccountKey, call: MarginCall, equity: int, im: int) -> Event:
    return make_event(
        kind,
        member=key[0],
        sub_account=key[1],
        amount_due=call.amount_due,
        deadline_height=call.deadline_height,
        equity=equity,
        initial_margin=im,
    )


def get_overdue_calls(state: ClearingState) -> frozenset[AccountKey]:
    """Sub-accounts whose call is past its deadline: due for liquidation."""
    return frozenset(
        (address, sub)
        for address, member in state.members.items()
        for sub, account in member.sub_accounts.items()
        if account.margin_call is not None and account.margin_call.deadline_height <= state.height
    )


def close_liquidated_calls(state: ClearingState, liquidated: set[AccountKey]) -> list[Event]:
    """A liquidated sub-account's call ends with the liquidation (``margin_call_closed``)."""
    events = []
    for key in sorted(liquidated):
        call = state.members[key[0]].sub_accounts[key[1]].margin_call
        if call is not None:
            get_sub_account_for_write(state, *key).margin_call = None
            events.append(
                make_event(
                    "margin_call_closed",
                    member=key[0],
                    sub_account=key[1],
                    amount_due=call.amount_due,
                    deadline_height=call.deadline_height,
                )
            )
    return events


def check_margin_call(
    member: bytes,
    sub_account: int,
    call: MarginCall,
    instrument_id: str,
    quantity_before: int,
    quantity_after: int,
) -> None:
    """During a call only reductions: refuse a trade that grows a position or flips it."""
    if is_growing(quantity_before, quantity_after):
        raise MarginCallReduceOnly(
            member, sub_account, instrument_id, quantity_before, quantity_after,
            call.amount_due, call.deadline_height,
        )  # fmt: skip
