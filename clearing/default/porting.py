"""Porting a defaulted clearing member's clients to their backup members.

End of block, right after the liquidation run: a clearing member has defaulted in this
block when the run met a loss of one of its own sub-accounts from the waterfall, its
house's included when paying its guarantee of a client left it insolvent
(clearing/default/guarantee.py): it has a default record of its own. Its admission
ends (it can no longer take clients or be a backup; under a genesis that names clearing
members it can no longer trade), and its clients are ported or closed out (EMIR art.
48(5)-(7), CFTC § 190.07):

- A client's positions and collateral never sat in the member's account (roles.py), so
  porting is the client record naming the backup as its clearing member: positions,
  collateral and cash stay exactly where they are, and nothing of the client's pays for
  the defaulter.
- A backup accepts a client if it is still an admitted clearing member, is not itself
  defaulting in this block, and has the headroom to guarantee it: its sub-account 0's
  equity above initial margin covers the client's uncovered stress loss (per
  sub-account, the stress scenarios' worst loss beyond the client's own equity), less
  what it already took on in this porting. A backup short of its default-fund
  contribution still takes its clients: a default large enough to port clients is the
  one whose waterfall has just used every survivor's contribution (the devnet's crash
  did), so that rule would refuse every backup exactly when porting matters; the
  headroom is what bounds the risk it takes on.
- Individually segregated clients port one by one; an omnibus account ports whole
  (every omnibus client of the member named the same backup, which accepts them all)
  or not at all.
- A client not ported is left without a clearing member: it may withdraw, not trade,
  until it joins another (an offer accepted, clearing/transition/client_requests.py). Its positions
  are closed out at once, or, with the genesis ``porting_window_blocks``, at the end of
  that window unless it has joined a member by then (it chooses its new member itself,
  EMIR art. 48(5)-(6); meanwhile a loss of its is the clearing house's to manage: no
  member guarantees it). A close-out passes the positions to the clearing house at the
  mark (the house auctions them, clearing/default/auction.py), so their value stays in
  the client's own account as cash, returned to the client rather than to the
  defaulter's creditors.

Porting moves no value: every account's equity is the same before and after.

A client of another member that named the defaulted member as its backup names none
afterwards (``client_backup_lost``): it chooses a new one by the offer and acceptance it
opened its account with.

Events name the client as ``member`` (so it reads them in its history, node/history/) and
carry the member it is now under as ``clearing_member``; a port also names the backup as
``counterparty`` (so the backup reads it, with the ``client`` field).
"""

from __future__ import annotations

from dataclasses import replace

from clearing.clients import get_clients
from clearing.context import BlockContext
from clearing.default.house import HOUSE
from clearing.default.steps import move_lots_at_mark
from clearing.events import Event, make_event
from clearing.risk.engine import (
    INSURANCE_MEMBER,
    get_account_initial_margin,
    get_quantities,
    get_risk_arrays,
    get_risk_setup,
)
from clearing.risk.margin import compute_initial_margin, compute_scenario_losses
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import (
    ClearingState,
    MemberAddress,
    get_account_equity,
    get_sub_account_for_write,
)


def process_porting(state: ClearingState, ctx: BlockContext) -> list[Event]:
    events = process_close_outs(state)
    headroom: dict[MemberAddress, int] = {}  # a backup's, shared by this block's defaults
    defaulted = get_defaulted_members(state)
    for member in sorted(defaulted):
        events.extend(process_member_default(state, member, headroom, defaulted))
    return events


def get_defaulted_members(state: ClearingState) -> set[MemberAddress]:
    """The clearing members that defaulted in this block (a member with clients under the
    open membership included)."""
    defaulted = set()
    for record in state.defaults:
        if record.height != state.height or record.member == INSURANCE_MEMBER:
            continue
        if record.member not in state.clients:  # a client's loss is its member's to meet
            defaulted.add(record.member)
    return {m for m in defaulted if m in state.clearing_members or get_clients(state, m)}


def process_member_default(
    state: ClearingState,
    member: MemberAddress,
    headroom: dict[MemberAddress, int] | None = None,
    defaulted: set[MemberAddress] | None = None,
) -> list[Event]:
    """End ``member``'s admission; port its clients or close them out. ``headroom``: what
    each backup has left to take, once a port in this block used some; ``defaulted``:
    every member defaulting in this block (none of them takes a client)."""
    headroom = {} if headroom is None else headroom
    defaulted = {member} if defaulted is None else defaulted
    events = []
    if member in state.clearing_members:
        state.clearing_members.discard(member)
        events.append(make_event("clearing_member_defaulted", member=member))
    clients = get_clients(state, member)
    for client, account in clients:
        if account.model is SegregationModel.SEGREGATED:
            events.extend(
                port_or_close_out(state, member, [(client, account)], headroom, defaulted)
            )
    omnibus = [(c, a) for c, a in clients if a.model is SegregationModel.OMNIBUS]
    if omnibus:
        events.extend(port_or_close_out(state, member, omnibus, headroom, defaulted))
    return events + forget_backup(state, member)


def forget_backup(state: ClearingState, member: MemberAddress) -> list[Event]:
    """Other members' clients that named the defaulted ``member`` as their backup name
    none now (it can take no client), each told so: it chooses a new backup before its
    own member's default, or would be closed out then."""
    events = []
    for client, account in sorted(state.clients.items()):
        if account.backup == member and account.clearing_member != member:
            state.clients[client] = replace(account, backup=NO_MEMBER)
            events.append(make_event("client_backup_lost", member=client, backup=member,
                                     clearing_member=account.clearing_member))  # fmt: skip
    return events


def port_or_close_out(
    state: ClearingState,
    member: MemberAddress,
    clients: list[tuple[bytes, ClientAccount]],
    headroom: dict[MemberAddress, int],
    defaulted: set[MemberAddress],
) -> list[Event]:
    """Port ``clients`` together to their common backup if it accepts them all, else close
    each out."""
    backups = {a.backup for _, a in clients}
    backup = backups.pop() if len(backups) == 1 else NO_MEMBER
    need = sum(get_guarantee_need(state, c) for c, _ in clients)
    if backup in state.clearing_members and backup not in defaulted:
        room = headroom.setdefault(backup, get_free_house_equity(state, backup))
        if need <= room:
            headroom[backup] = room - need
            return [port_client(state, member, c, a, backup) for c, a in clients]
    return [e for c, a in clients for e in detach_client(state, member, c, a)]


def detach_client(
    state: ClearingState, member: MemberAddress, client: MemberAddress, account: ClientAccount
) -> list[Event]:
    """No backup took the client: it is left without a clearing member, its positions
    closed out now, or at the end of the genesis ``porting_window_blocks`` unless it joins
    another member by then (clearing/transition/client_requests.py)."""
    window = state.genesis.porting_window_blocks
    state.clients[client] = ClientAccount(NO_MEMBER, account.model)
    if window == 0:
        return [*close_out_client(state, client), make_event("client_detached", member=client,
                                                             defaulter=member)]  # fmt: skip
    deadline = state.height + window
    state.clients[client] = ClientAccount(NO_MEMBER, account.model, NO_MEMBER, deadline)
    return [make_event("client_detached", member=client, defaulter=member,
                       close_out_height=deadline)]  # fmt: skip


def process_close_outs(state: ClearingState) -> list[Event]:
    """Close out the clients whose window to choose a member ends in this block."""
    due = sorted(c for c, a in state.clients.items()
                 if a.close_out_height and a.close_out_height <= state.height)  # fmt: skip
    events = []
    for client in due:
        account = state.clients[client]
        state.clients[client] = ClientAccount(NO_MEMBER, account.model)
        events.extend(close_out_client(state, client))
    return events


def get_free_house_equity(state: ClearingState, member: MemberAddress) -> int:
    """What ``member``'s sub-account 0 holds above its initial margin."""
    record = state.members.get(member)
    account = None if record is None else record.sub_accounts.get(0)
    if account is None:
        return 0
    return max(get_account_equity(state, account) - get_account_initial_margin(state, account), 0)


def get_guarantee_need(state: ClearingState, client: MemberAddress) -> int:
    """What guaranteeing ``client`` may cost: per sub-account, its worst stress loss beyond
    its own equity (0 with margining off)."""
    setup = get_risk_setup(state)
    record = state.members.get(client)
    if setup is None or record is None:
        return 0
    arrays = get_risk_arrays(state, setup, stress=True)
    need = 0
    for account in record.sub_accounts.values():
        quantities = get_quantities(account)
        stress = compute_initial_margin(compute_scenario_losses(quantities, arrays))
        need += max(stress - get_account_equity(state, account), 0)
    return need


def port_client(
    state: ClearingState,
    member: MemberAddress,
    client: MemberAddress,
    account: ClientAccount,
    backup: MemberAddress,
) -> Event:
    """The backup becomes the client's clearing member; it names a new backup later."""
    state.clients[client] = ClientAccount(backup, account.model)
    return make_event("ported", member=client, counterparty=backup, client=client,
                      clearing_member=backup, defaulter=member,
                      model=account.model.value)  # fmt: skip


def close_out_client(state: ClearingState, client: MemberAddress) -> list[Event]:
    """Every position of the client passes to the house at the mark (its value stays in
    the client's cash)."""
    events = []
    record = state.members.get(client)
    held = {} if record is None else record.sub_accounts
    for sub in sorted(held):
        positions = get_quantities(held[sub])
        if not positions:
            continue
        sub_account = get_sub_account_for_write(state, client, sub)
        house = get_sub_account_for_write(state, *HOUSE)
        for iid, quantity in sorted(positions.items()):
            move_lots_at_mark(state, sub_account, iid, -quantity)
            move_lots_at_mark(state, house, iid, quantity)
            events.append(make_event("client_closed_out", member=client, sub_account=sub,
                                     instrument=iid, quantity=quantity,
                                     price=state.mark_prices[iid]))  # fmt: skip
        sub_account.margin_call = None  # flat: nothing is due
    return events
