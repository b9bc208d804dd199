"""End-of-block and epoch steps of default management over the ledger state.

``process_liquidation_step`` (end of every block, after variation margin,
funding and margin calls): snapshot every sub-account as a ``RiskAccount``, run
the pure ``process_liquidations`` over the accounts below MM and those whose
margin call is overdue, write the differences back (positions move at the
mark, cash, seized collateral, default-fund contributions, insurance fund), and
close the margin calls of the accounts it liquidated.
The insurance fund is ``state.insurance_fund`` plus the clearing house's own
sub-account ``(INSURANCE_MEMBER, 0)``, which holds positions no backstop took
and collateral seized from defaulters (paid for at its haircut value).

``process_default_fund_step`` (each epoch): Cover-N sizing; a contribution
above the requirement goes back to the member's sub-account 0 (so a member
that has closed out is no longer exposed to others' defaults); a member's
shortfall is debited from the cash of its sub-account 0 as far as its equity
stays above initial margin (cash may go negative, backed by collateral); a
member still short is flagged reduce-only by an event.
"""

from __future__ import annotations

from clearing.clients import get_guarantors
from clearing.context import BlockContext
from clearing.default.default_fund import (
    compute_member_exposures,
    compute_required_contributions,
    get_contribution_events,
)
from clearing.default.events import DefaultEvent, EventKind
from clearing.default.house import get_house_equity
from clearing.default.liquidation import (
    AccountKey,
    DefaultBook,
    MarginContext,
    RiskAccount,
    get_liquidated_keys,
    process_liquidations,
)
from clearing.default.margin_call import close_liquidated_calls, get_overdue_calls
from clearing.default.records import record_defaults
from clearing.events import Event, make_event
from clearing.position import apply_fill, compute_entry_cash, compute_long_change
from clearing.risk.engine import (
    INSURANCE_MEMBER,
    get_kept_initial_margin,
    get_quantities,
    get_risk_arrays,
    get_risk_setup,
    get_scanned_initial_margin,
    get_worst_losses,
    release_scanned_figures,
)
from clearing.risk.margin import compute_initial_margin_bound, is_maintenance_met
from clearing.state import (
    ClearingState,
    SubAccount,
    get_account_equity,
    get_collateral_value,
    get_member_for_write,
    get_sub_account_for_write,
)
from clearing.units import apply_bps_floor

INSURANCE = (INSURANCE_MEMBER, 0)


def get_default_book(state: ClearingState) -> DefaultBook:
    accounts: dict[AccountKey, RiskAccount] = {}
    for address in sorted(state.members):
        for sub, account in sorted(state.members[address].sub_accounts.items()):
            accounts[(address, sub)] = _snapshot(state, account)
    fund = accounts.get(INSURANCE, RiskAccount(0, 0, ()))
    accounts[INSURANCE] = RiskAccount(fund.cash + state.insurance_fund, fund.collateral_value,
                                      fund.positions)  # fmt: skip
    members = [(a, m) for a, m in sorted(state.members.items()) if a != INSURANCE_MEMBER]
    contributions = {a: m.default_fund for a, m in members}
    required = {a: m.default_fund_required for a, m in members}
    return DefaultBook(
        accounts, contributions, required, get_assessable(state), get_guarantors(state)
    )


def get_assessable(state: ClearingState) -> dict[bytes, int]:
    """What each member may still be assessed this epoch: the genesis share of its required
    contribution, less what it has paid."""
    setup = get_risk_setup(state)
    cap_bps = 0 if setup is None else setup.params.default_fund.assessment_cap_bps
    return {
        address: max(0, apply_bps_floor(m.default_fund_required, cap_bps) - m.assessed)
        for address, m in sorted(state.members.items())
        if address != INSURANCE_MEMBER
    }


def _snapshot(state: ClearingState, account: SubAccount) -> RiskAccount:
    positions = tuple(
        (iid, p.quantity, p.average_entry_price)
        for iid, p in sorted(account.positions.items())
        if p.quantity
    )
    return RiskAccount(account.cash, get_collateral_value(state, account), positions)


def process_liquidation_step(state: ClearingState, ctx: BlockContext) -> list[Event]:
    setup = get_risk_setup(state)
    if setup is None:
        return []
    params = setup.params
    overdue = get_overdue_calls(state)
    if not overdue and not is_any_below_maintenance(state) and get_house_equity(state) >= 0:
        return []  # the common block: no snapshot of the book needed
    ctx_margin = MarginContext(get_risk_arrays(state, setup), state.mark_prices, params.k_num,
                               params.k_den, params.liquidation)  # fmt: skip
    book = get_default_book(state)
    after, events = process_liquidations(book, ctx_margin, params.backstops, INSURANCE, overdue)
    if not events:
        return []
    for key in sorted(after.accounts):  # a house that paid a guarantee may be new
        before = book.accounts.get(key, RiskAccount(0, 0))
        if after.accounts[key] != before:
            _write_back(state, key, before, after.accounts[key])
    for member, posted in sorted(after.contributions.items()):
        if posted != book.contributions[member]:
            get_member_for_write(state, member).default_fund = posted
    for member, left in sorted(after.assessable.items()):
        if left != book.assessable[member]:
            get_member_for_write(state, member).assessed += book.assessable[member] - left
    closed = close_liquidated_calls(state, get_liquidated_keys(events))
    record_defaults(state, events)
    return [*(to_ledger_event(e) for e in events), *closed]


def is_any_below_maintenance(state: ClearingState) -> bool:
    """True when some sub-account (the clearing house's aside) has equity < MM, or is flat
    with negative equity."""
    setup = get_risk_setup(state)
    assert setup is not None
    k_num, k_den = setup.params.k_num, setup.params.k_den
    worst: dict[str, int] | None = None  # a book with no positions needs no risk arrays
    for address, member in state.members.items():
        if address == INSURANCE_MEMBER:
            continue
        for sub, account in member.sub_accounts.items():
            quantities = get_quantities(account)
            if not quantities:
                if account.cash < 0 and get_account_equity(state, account) < 0:
                    release_scanned_figures(state)
                    return True  # flat and insolvent
                continue
            equity = get_account_equity(state, account)
            if worst is None:
                worst = get_worst_losses(state, setup)
            bound = compute_initial_margin_bound(quantities, worst)
            if is_maintenance_met(equity, bound, k_num, k_den):
                continue  # MM surely met: no scenario vector needed
            im = get_scanned_initial_margin(state, address, sub, account)
            if not is_maintenance_met(equity, im, k_num, k_den):
                release_scanned_figures(state)
                return True
    release_scanned_figures(state)  # the block's last scan
    return False


def _write_back(state: ClearingState, key: AccountKey, old: RiskAccount, new: RiskAccount) -> None:
    account = get_sub_account_for_write(state, *key)
    if key == INSURANCE:
        state.insurance_fund += new.cash - old.cash
    else:
        account.cash += new.cash - old.cash
    seized = old.collateral_value - new.collateral_value
    if seized:
        # The clearing house buys the defaulter's collateral at its haircut value.
        fund = get_sub_account_for_write(state, *INSURANCE)
        for token, quanta in sorted(account.collateral.items()):
            fund.collateral[token] = fund.collateral.get(token, 0) + quanta
        account.collateral.clear()
        state.insurance_fund -= seized
    before, after = old.quantities(), new.quantities()
    for iid in sorted(set(before) | set(after)):
        change = after.get(iid, 0) - before.get(iid, 0)
        if change:
            move_lots_at_mark(state, account, iid, change)


def move_lots_at_mark(state: ClearingState, account: SubAccount, iid: str, lots: int) -> None:
    """Lots enter or leave at the mark (entry variation margin is 0 once marked to market)."""
    mark = state.mark_prices[iid]
    before = account.positions.get(iid)
    lots_before = 0 if before is None else before.quantity
    account.cash += compute_entry_cash(before, lots, mark, mark)
    long_change = compute_long_change(lots_before, lots_before + lots)
    state.open_interest[iid] = state.open_interest.get(iid, 0) + long_change
    # a flat record keeps its realised PnL
    apply_fill(account.positions, iid, lots, mark, mark, state.funding_indices.get(iid, 0))


def to_ledger_event(event: DefaultEvent) -> Event:
    return make_event(
        event.kind.value,
        member=event.member,
        sub_account=event.sub_account,
        amount=event.amount,
        instrument=event.instrument_id,
        quantity=event.quantity,
        price=event.price,
        counterparty=event.counterparty,
        counterparty_sub_account=event.counterparty_sub_account,
    )


def process_default_fund_step(state: ClearingState, ctx: BlockContext) -> list[Event]:
    setup = get_risk_setup(state)
    if setup is None:
        return []
    holdings = {
        (address, sub): get_quantities(account)
        for address, member in sorted(state.members.items())
        if address != INSURANCE_MEMBER
        for sub, account in sorted(member.sub_accounts.items())
    }
    exposures = compute_member_exposures(
        holdings,
        get_risk_arrays(state, setup),
        get_risk_arrays(state, setup, stress=True),
        get_guarantors(state),
    )
    for address in state.members:
        if address != INSURANCE_MEMBER:
            exposures.setdefault(address, 0)
    cover = setup.params.default_fund.cover
    required = compute_required_contributions(exposures, cover)
    state.default_fund_cover = tuple(sorted(exposures.values(), reverse=True)[:cover])
    for address in sorted(state.members):
        if state.members[address].assessed:  # a new epoch: the assessment powers renew
            get_member_for_write(state, address).assessed = 0
    moved = [_settle_contribution(state, member, required[member]) for member in sorted(required)]
    posted = {m: state.members[m].default_fund for m in required}
    _, events = get_contribution_events(required, posted)
    return [to_ledger_event(e) for e in (*events, *(e for e in moved if e is not None))]


def _settle_contribution(state: ClearingState, member: bytes, required: int) -> DefaultEvent | None:
    """Return any excess to sub-account 0's cash; top a shortfall up from its free equity.

    The requirement is recorded on the member: while its posted contribution
    stays below it, the member may only reduce positions (see transition/trade.py)."""
    # a clearing member whose clients alone trade may have no account of its own yet
    record = state.members.get(member) or get_member_for_write(state, member)
    if record.default_fund_required != required:  # write (and re-hash) only what changed
        get_member_for_write(state, member).default_fund_required = required
    gap = required - record.default_fund
    if gap < 0:
        get_sub_account_for_write(state, member, 0).cash -= gap
        record.default_fund = required
        return DefaultEvent(EventKind.CONTRIBUTION_RETURNED, member, 0, -gap)
    account = record.sub_accounts.get(0)
    if gap == 0 or account is None:
        return None
    equity = get_account_equity(state, account)
    amount = min(gap, max(equity - get_kept_initial_margin(state, member, 0, account), 0))
    if not amount:
        return None
    get_member_for_write(state, member)
    account.cash -= amount
    record.default_fund += amount
    return DefaultEvent(EventKind.CONTRIBUTION_POSTED, member, 0, amount)
