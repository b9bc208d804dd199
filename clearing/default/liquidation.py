"""End-of-block liquidation of sub-accounts below maintenance margin (pure).

Due: an account below MM, one with negative equity (flat or not), or one whose
margin call is overdue (past its deadline, ``clearing/default/margin_call.py``)
and still below IM. Order: by how far below MM (``k_num*IM - k_den*equity``,
largest first; an overdue call above MM comes after every account below it),
then (member, sub-account); at most ``max_per_block`` solvent accounts per block
(every insolvent one is resolved in the block it appears).

Each account, using the same margin code as the pre-trade check:

1. Partial: close ``j/partial_steps`` of every position (toward zero), smallest
   ``j`` such that equity after the penalty covers IM of what remains. The
   closed lots move at the mark to the first registered backstop liquidator
   that still covers its own IM after taking them (it receives the penalty
   minus the fee), otherwise to the insurance fund account. A backstop whose
   member is reduce-only (its posted default-fund contribution below the
   requirement, as the run leaves it) is passed over: a member short of its
   contribution takes on no new risk. The fee goes to the insurance fund.
2. Bankrupt (even a full close leaves negative equity, including a flat account
   whose collateral fell below its negative cash): the penalty takes what
   equity is left, the positions close, and the negative cash runs down the
   waterfall (``clearing/default/waterfall.py``, assessments of the surviving
   members' sub-accounts 0 included, each at most what the sub-account holds
   above its initial margin at that moment); what no layer covers is
   auto-deleveraged against profitable opposite positions at the bankruptcy
   price (``clearing/default/adl.py``). The defaulter ends flat with nothing.
   A client's loss is met first by its collateral, then by its clearing member's
   house in full; a house that cannot pay is liquidated in the same run as its own
   default (``clearing/default/guarantee.py``).

Value is conserved: positions move at the mark (variation margin is already in
cash), and every other step moves an amount from one balance to another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from clearing.default.adl import AdlCandidate, compute_adl
from clearing.default.default_fund import is_reduce_only
from clearing.default.events import DefaultEvent, EventKind
from clearing.default.guarantee import compute_guarantee
from clearing.default.waterfall import WaterfallResult, compute_pro_rata, compute_waterfall
from clearing.position import compute_fill
from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import (
    compute_initial_margin,
    compute_scenario_losses,
    is_maintenance_met,
)
from clearing.risk.params import LiquidationParams
from clearing.units import apply_bps_ceil

AccountKey = tuple[bytes, int]
Positions = tuple[tuple[str, int, int], ...]  # (instrument, lots, average entry), sorted


@dataclass(frozen=True, slots=True)
class RiskAccount:
    cash: int
    collateral_value: int  # sum of quanta * haircut value per quantum
    positions: Positions = ()

    @property
    def equity(self) -> int:
        return self.cash + self.collateral_value

    def quantities(self) -> dict[str, int]:
        return {iid: q for iid, q, _ in self.positions}


@dataclass(frozen=True, slots=True)
class MarginContext:
    arrays: RiskArrays
    marks: Mapping[str, int]
    k_num: int
    k_den: int
    liquidation: LiquidationParams


@dataclass(frozen=True, slots=True)
class DefaultBook:
    accounts: Mapping[AccountKey, RiskAccount]
    contributions: Mapping[bytes, int]  # posted default-fund contributions per member
    required: Mapping[bytes, int] = field(default_factory=dict)  # this epoch's requirements
    assessable: Mapping[bytes, int] = field(default_factory=dict)  # left to assess this epoch
    guarantors: Mapping[bytes, bytes] = field(default_factory=dict)  # client -> its member


def get_initial_margin(account: RiskAccount, ctx: MarginContext) -> int:
    return compute_initial_margin(compute_scenario_losses(account.quantities(), ctx.arrays))


def get_shortfall(account: RiskAccount, ctx: MarginContext) -> int:
    """``k_num*IM - k_den*equity``: positive exactly when equity < MM."""
    return ctx.k_num * get_initial_margin(account, ctx) - ctx.k_den * account.equity


def is_insolvent(account: RiskAccount) -> bool:
    """Negative equity, flat or not: the account owes more than it holds."""
    return account.equity < 0


def is_liquidatable(account: RiskAccount, ctx: MarginContext) -> bool:
    if is_insolvent(account):
        return True
    im = get_initial_margin(account, ctx)
    return bool(account.positions) and not is_maintenance_met(
        account.equity, im, ctx.k_num, ctx.k_den
    )


def is_due(
    key: AccountKey, account: RiskAccount, ctx: MarginContext, overdue: frozenset[AccountKey]
) -> bool:
    """Below MM, or under an overdue margin call and still below IM."""
    if key in overdue and account.positions:
        return account.equity < get_initial_margin(account, ctx)
    return is_liquidatable(account, ctx)


def get_liquidation_order(
    accounts: Mapping[AccountKey, RiskAccount],
    ctx: MarginContext,
    insurance: AccountKey,
    overdue: frozenset[AccountKey] = frozenset(),
) -> list[AccountKey]:
    due = [k for k, a in accounts.items() if k != insurance and is_due(k, a, ctx, overdue)]
    return sorted(due, key=lambda k: (-get_shortfall(accounts[k], ctx), k))


@dataclass(frozen=True, slots=True)
class ClosePlan:
    closing: tuple[tuple[str, int], ...]  # lots removed from the account (its own sign)
    penalty: int
    fee: int


def compute_close_plan(account: RiskAccount, step: int, ctx: MarginContext) -> ClosePlan:
    steps = ctx.liquidation.partial_steps
    closing = tuple(
        (iid, (1 if q > 0 else -1) * (abs(q) * step // steps)) for iid, q, _ in account.positions
    )
    notional = [abs(c) * ctx.marks[iid] for iid, c in closing]
    penalty = sum(apply_bps_ceil(n, ctx.liquidation.penalty_bps) for n in notional)
    fee = sum(apply_bps_ceil(n, ctx.liquidation.fee_bps) for n in notional)
    return ClosePlan(tuple((iid, c) for iid, c in closing if c), penalty, fee)


def find_partial_close(account: RiskAccount, ctx: MarginContext) -> ClosePlan | None:
    """Smallest step whose close leaves equity (after penalty) >= IM of the rest."""
    for step in range(1, ctx.liquidation.partial_steps + 1):
        plan = compute_close_plan(account, step, ctx)
        rest = _apply_lots(account, {iid: -c for iid, c in plan.closing}, ctx.marks)
        if account.equity - plan.penalty >= get_initial_margin(rest, ctx):
            return plan
    return None


def process_liquidations(
    book: DefaultBook,
    ctx: MarginContext,
    backstops: tuple[AccountKey, ...],
    insurance: AccountKey,
    overdue: frozenset[AccountKey] = frozenset(),
) -> tuple[DefaultBook, tuple[DefaultEvent, ...]]:
    """Liquidate every due account (up to the per-block cap, which insolvent accounts do
    not count against: none is left with negative equity); return book and events.

    ``overdue``: accounts whose margin call is past its deadline."""
    run = _Run(book, ctx, backstops, insurance)
    order = get_liquidation_order(run.accounts, ctx, insurance, overdue)
    run.in_default = {key[0] for key in order}  # a member in default is never assessed
    solvent_left = ctx.liquidation.max_per_block
    for key in order:
        account = run.accounts[key]
        if not is_insolvent(account):
            if solvent_left == 0:
                continue
            solvent_left -= 1
        if is_due(key, account, ctx, overdue):
            run.liquidate(key)
    run.cover_house_loss()
    after = DefaultBook(
        run.accounts, run.contributions, book.required, run.assessable, book.guarantors
    )
    return after, tuple(run.events)


def get_liquidated_keys(events: tuple[DefaultEvent, ...]) -> set[AccountKey]:
    """The accounts a run liquidated: each leaves a ``liquidated`` step (lots handed
    over) or, bankrupt, a ``collateral_seized`` one (the waterfall's first layer, even
    at 0); no other account is named by either."""
    kinds = (EventKind.LIQUIDATED, EventKind.COLLATERAL_SEIZED)
    return {(e.member, e.sub_account) for e in events if e.kind in kinds}


def _apply_lots(
    account: RiskAccount, lots: Mapping[str, int], marks: Mapping[str, int]
) -> RiskAccount:
    """Add signed lots at the mark (cash unchanged: variation margin is settled at the mark)."""
    held = {iid: (q, e) for iid, q, e in account.positions}
    for iid in sorted(lots):
        q, entry = held.get(iid, (0, 0))
        quantity, average, _ = compute_fill(q, entry, lots[iid], marks[iid])
        held[iid] = (quantity, average)
    positions = tuple((iid, q, e) for iid, (q, e) in sorted(held.items()) if q)
    return replace(account, positions=positions)


class _Run:
    """Mutable working copy of one block's liquidation pass."""

    def __init__(
        self,
        book: DefaultBook,
        ctx: MarginContext,
        backstops: tuple[AccountKey, ...],
        insurance: AccountKey,
    ) -> None:
        self.accounts, self.contributions = dict(book.accounts), dict(book.contributions)
        self.assessable = dict(book.assessable)
        self.in_default: set[bytes] = set()
        self.required, self.ctx = book.required, ctx
        self.guarantors = book.guarantors
        self.backstops, self.insurance = backstops, insurance
        self.events: list[DefaultEvent] = []

    def pay(self, payer: AccountKey, payee: AccountKey, amount: int) -> None:
        self.adjust(payer, -amount)
        self.adjust(payee, amount)

    def adjust(self, key: AccountKey, amount: int) -> None:
        account = self.accounts[key]
        self.accounts[key] = replace(account, cash=account.cash + amount)

    def move_lots(self, key: AccountKey, lots: Mapping[str, int]) -> None:
        self.accounts[key] = _apply_lots(self.accounts[key], lots, self.ctx.marks)

    def emit(
        self,
        kind: EventKind,
        key: AccountKey,
        amount: int,
        lots: tuple[str, int, int] = ("", 0, 0),
        counterparty: AccountKey = (b"", -1),
    ) -> None:
        """Record one step: ``lots`` is (instrument, quantity, price)."""
        iid, quantity, price = lots
        self.events.append(
            DefaultEvent(kind, key[0], key[1], amount, iid, quantity, price, *counterparty)
        )

    def liquidate(self, key: AccountKey) -> None:
        account = self.accounts[key]
        plan = find_partial_close(account, self.ctx)
        if plan is not None:
            self.hand_over(key, plan.closing, plan.penalty, plan.fee)
            return
        full = compute_close_plan(account, self.ctx.liquidation.partial_steps, self.ctx)
        if account.equity >= 0:  # the penalty takes what is left, nothing is owed
            charge = min(account.equity, full.penalty)
            self.hand_over(key, full.closing, charge, min(full.fee, charge))
            return
        to_adl = self.run_waterfall(key)
        if to_adl == 0:
            self.hand_over(key, full.closing, 0, 0)
        else:
            self.deleverage(key, to_adl)

    def hand_over(
        self, key: AccountKey, closing: tuple[tuple[str, int], ...], penalty: int, fee: int
    ) -> None:
        """Move ``closing`` lots at the mark to a backstop (else the insurance fund)."""
        if fee:
            self.pay(key, self.insurance, fee)
            self.emit(EventKind.LIQUIDATION_FEE, key, fee)
        lots = dict(closing)
        self.move_lots(key, {i: -q for i, q in lots.items()})
        taker = self.insurance
        for candidate in self.backstops:
            if not self.is_backstop_available(candidate, key):
                continue
            after = _apply_lots(self.accounts[candidate], lots, self.ctx.marks)
            after = replace(after, cash=after.cash + penalty - fee)
            if after.equity >= get_initial_margin(after, self.ctx):
                taker = candidate
                break
        self.move_lots(taker, lots)
        if penalty - fee:
            self.pay(key, taker, penalty - fee)
            self.emit(EventKind.LIQUIDATION_PENALTY, key, penalty - fee, counterparty=taker)
        for iid, q in closing:
            self.emit(EventKind.LIQUIDATED, key, 0, (iid, q, self.ctx.marks[iid]), taker)

    def is_backstop_available(self, candidate: AccountKey, key: AccountKey) -> bool:
        """An existing account other than the liquidated one and the fund's, not reduce-only."""
        member = candidate[0]
        return (
            candidate not in (key, self.insurance)
            and candidate in self.accounts
            and not is_reduce_only(self.required.get(member, 0), self.contributions.get(member, 0))
        )

    def run_waterfall(self, key: AccountKey) -> int:
        """Cover the negative cash of ``key`` layer by layer; return what is left for ADL."""
        account = self.accounts[key]
        member = key[0]
        guarantor = self.guarantors.get(member)
        if guarantor is not None:
            return self.run_guarantee(key, guarantor)
        result = compute_waterfall(
            member, -account.cash, max(account.collateral_value, 0),
            self.contributions.get(member, 0), max(self.accounts[self.insurance].cash, 0),
            self.contributions,
            self.get_assessment_capacity(),
        )  # fmt: skip
        seized = result.from_collateral
        self.accounts[key] = replace(
            account, cash=account.cash + seized, collateral_value=account.collateral_value - seized
        )
        self.emit(EventKind.COLLATERAL_SEIZED, key, seized)
        return self.pay_layers(member, key, result)

    def run_guarantee(self, key: AccountKey, guarantor: bytes) -> int:
        """A client's loss (guarantee.py): its collateral, then its clearing member's house
        in full; a house that cannot is liquidated as its own default, in this run.
        Nothing is left for the client's ADL."""
        account = self.accounts[key]
        house = (guarantor, 0)
        plan = compute_guarantee(-account.cash, max(account.collateral_value, 0))
        self.accounts[key] = replace(
            account,
            cash=account.cash + plan.from_collateral,
            collateral_value=account.collateral_value - plan.from_collateral,
        )
        self.emit(EventKind.COLLATERAL_SEIZED, key, plan.from_collateral)
        if not plan.from_house:
            return 0
        self.accounts.setdefault(house, RiskAccount(0, 0))  # a member may hold nothing
        self.pay(house, key, plan.from_house)
        self.emit(EventKind.GUARANTEE_PAID, house, plan.from_house, counterparty=key)
        if is_insolvent(self.accounts[house]):
            self.in_default.add(guarantor)  # never assessed for the loss it failed to meet
            deficit = -self.accounts[house].equity
            self.emit(EventKind.GUARANTEE_FAILED, (guarantor, -1), deficit, counterparty=key)
            self.liquidate(house)
        return 0

    def pay_layers(self, defaulter: bytes, key: AccountKey, result: WaterfallResult) -> int:
        """The waterfall's layers after the collateral, for the loss of ``key`` charged to
        ``defaulter`` (the account's member, or a client's clearing member): its own
        contribution, the insurance fund, the survivors'; return what is left for ADL."""
        self.take_contribution(defaulter, key, result.from_own_contribution)
        self.emit(EventKind.OWN_CONTRIBUTION_USED, key, result.from_own_contribution)
        self.pay(self.insurance, key, result.from_insurance)
        self.emit(EventKind.INSURANCE_USED, key, result.from_insurance, counterparty=self.insurance)
        self.pay_mutualised(key, result)
        return result.to_adl

    def get_free_equity(self, key: AccountKey) -> int:
        """What the account holds above its initial margin, as the run leaves it."""
        account = self.accounts.get(key)
        if account is None:
            return 0
        return max(account.equity - get_initial_margin(account, self.ctx), 0)

    def pay_mutualised(self, key: AccountKey, result: WaterfallResult) -> None:
        """The survivors' layers of ``result``: their contributions, then assessments."""
        for payer, amount in result.from_members:
            self.take_contribution(payer, key, amount)
            self.emit(EventKind.CONTRIBUTION_MUTUALISED, (payer, -1), amount, counterparty=key)
        for payer, amount in result.from_assessments:
            self.assessable[payer] -= amount
            self.pay((payer, 0), key, amount)  # from its sub-account 0, as contributions are
            self.emit(EventKind.ASSESSED, (payer, 0), amount, counterparty=key)

    def cover_house_loss(self) -> None:
        """Run the clearing house's own loss down the survivors' layers.

        The house holds a defaulter's lots until its auctions close; a price move in
        between costs it variation margin, and once that passes the insurance fund the
        house's equity is negative: a deficit that halted withdrawals for good, since no
        layer ever met it. It is a cost of those defaults, met as theirs are (the others'
        contributions, assessments, then deleveraging the lots the house holds), and
        recorded as a default of the house's account. A run that nobody could pay into
        changes nothing, so a deficit no layer can meet is not recorded again each block.
        """
        house = self.accounts[self.insurance]
        if house.equity >= 0:
            return
        saved = (dict(self.accounts), dict(self.contributions), dict(self.assessable))
        emitted = len(self.events)
        result = compute_waterfall(self.insurance[0], -house.equity, 0, 0, 0, self.contributions,
                                   self.get_assessment_capacity())  # fmt: skip
        self.emit(EventKind.COLLATERAL_SEIZED, self.insurance, 0)  # a default's first step
        self.pay_mutualised(self.insurance, result)
        if result.to_adl:
            self.deleverage(self.insurance, result.to_adl)
        if self.accounts[self.insurance].equity == house.equity:
            self.accounts, self.contributions, self.assessable = saved
            del self.events[emitted:]

    def get_assessment_capacity(self) -> dict[bytes, int]:
        """What each survivor can be assessed now: what its cap leaves, and no more than
        its sub-account 0's free equity (above initial margin, as the run leaves it), so
        an assessment never puts a survivor under margin, let alone in default."""
        capacity = {}
        for member, left in self.assessable.items():
            account = self.accounts.get((member, 0))
            if left <= 0 or account is None or member in self.in_default:
                continue
            capacity[member] = min(left, self.get_free_equity((member, 0)))
        return capacity

    def take_contribution(self, member: bytes, key: AccountKey, amount: int) -> None:
        self.contributions[member] = self.contributions.get(member, 0) - amount
        self.adjust(key, amount)

    def deleverage(self, key: AccountKey, loss: int) -> None:
        """Close every position of ``key`` by ADL; the loss is split by notional. A flat
        account's loss has nobody to deleverage: the house books it."""
        account = self.accounts[key]
        if not account.positions:
            self.cover_uncovered(key, loss)
            return
        weights = {iid: abs(q) * max(self.ctx.marks[iid], 1) for iid, q, _ in account.positions}
        parts = compute_pro_rata(loss, weights)
        for iid, q, _ in account.positions:
            self.deleverage_one(key, iid, q, parts[iid])

    def deleverage_one(self, key: AccountKey, iid: str, quantity: int, loss: int) -> None:
        mark = self.ctx.marks[iid]
        candidates = [
            AdlCandidate(k, q, q * (mark - entry), a.equity, abs(q) * mark)
            for k, a in sorted(self.accounts.items())
            if k not in (key, self.insurance)
            for i, q, entry in a.positions
            if i == iid
        ]
        result = compute_adl(quantity, loss, candidates)
        bankruptcy = round(mark + Fraction(loss, quantity))
        for fill in result.fills:
            self.move_lots(fill.account, {iid: fill.quantity})
            self.pay(fill.account, key, fill.charge)
            lots = (iid, fill.quantity, bankruptcy)
            self.emit(EventKind.DELEVERAGED, fill.account, fill.charge, lots, key)
        sign = 1 if quantity > 0 else -1
        self.move_lots(key, {iid: -quantity})
        if result.unfilled:
            self.move_lots(self.insurance, {iid: sign * result.unfilled})
        if result.uncharged:
            self.cover_uncovered(key, result.uncharged)

    def cover_uncovered(self, key: AccountKey, amount: int) -> None:
        """The clearing house books a loss no layer could meet (insurance fund goes negative)."""
        self.pay(self.insurance, key, amount)
        self.emit(EventKind.UNCOVERED, key, amount)
