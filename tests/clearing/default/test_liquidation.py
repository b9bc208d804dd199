from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.default.events import EventKind
from clearing.default.liquidation import (
    DefaultBook,
    MarginContext,
    RiskAccount,
    get_initial_margin,
    is_liquidatable,
    process_liquidations,
)
from clearing.risk.arrays import RiskArrays
from clearing.risk.params import LiquidationParams

ARRAYS = RiskArrays(1, ("X", "Y"), ("base", "g1", "g2", "g3", "g4"),
                    ((0, 100, -100, 100, -100), (0, 50, 50, -50, -50)))  # fmt: skip
MARKS = {"X": 1000, "Y": 500}
CTX = MarginContext(ARRAYS, MARKS, 1, 2, LiquidationParams(100, 50, 1000, 10))
INSURANCE = (b"\x00" * 20, 0)
BACKSTOP = (b"\xbb" * 20, 0)
MEMBERS = [bytes([n]) * 20 for n in range(1, 7)]


def total_value(book: DefaultBook) -> int:
    return sum(a.equity for a in book.accounts.values()) + sum(book.contributions.values())


def net_lots(book: DefaultBook) -> dict[str, int]:
    out: dict[str, int] = {}
    for account in book.accounts.values():
        for iid, q, _ in account.positions:
            out[iid] = out.get(iid, 0) + q
    return {k: v for k, v in out.items() if v}


@st.composite
def books(draw: st.DrawFn) -> DefaultBook:
    accounts: dict[tuple[bytes, int], RiskAccount] = {}
    lots = {"X": 0, "Y": 0}
    for member in MEMBERS:
        positions = []
        for iid in ("X", "Y"):
            q = draw(st.integers(-50, 50))
            if q:
                positions.append((iid, q, MARKS[iid] + draw(st.integers(-200, 200))))
                lots[iid] += q
        cash = draw(st.integers(-5000, 20_000))
        accounts[(member, 0)] = RiskAccount(cash, draw(st.integers(0, 3000)), tuple(positions))
    # The clearing house is flat: the insurance fund account holds the other side.
    fund = tuple((iid, -q, MARKS[iid]) for iid, q in sorted(lots.items()) if q)
    accounts[INSURANCE] = RiskAccount(draw(st.integers(0, 20_000)), 0, fund)
    accounts[BACKSTOP] = RiskAccount(draw(st.integers(0, 50_000)), 0, ())
    contributions = {m: draw(st.integers(0, 5000)) for m in MEMBERS}
    assessable = {m: draw(st.integers(0, 5000)) for m in MEMBERS}
    return DefaultBook(accounts, contributions, {}, assessable)


@given(books())
def test_liquidation_conserves_value_and_lots(book: DefaultBook) -> None:
    after, _ = process_liquidations(book, CTX, (BACKSTOP,), INSURANCE)
    assert total_value(after) == total_value(book)
    assert net_lots(after) == net_lots(book) == {}


@given(books())
def test_no_account_is_left_with_negative_equity(book: DefaultBook) -> None:
    """Defaulters end flat with nothing; assessments and deleveraging charge survivors
    only what they hold (the insurance fund's account books what nobody could pay)."""
    after, _ = process_liquidations(book, CTX, (BACKSTOP,), INSURANCE)
    for key, account in after.accounts.items():
        assert key == INSURANCE or account.equity >= 0, (key, account)


@given(books())
def test_no_account_left_below_maintenance_while_resources_remain(book: DefaultBook) -> None:
    after, events = process_liquidations(book, CTX, (BACKSTOP,), INSURANCE)
    kinds = {e.kind for e in events}
    if not kinds & {EventKind.DELEVERAGED, EventKind.UNCOVERED}:
        for key, account in after.accounts.items():
            assert key == INSURANCE or not is_liquidatable(account, CTX)
    # Backstops only ever take what they can margin.
    backstop = after.accounts[BACKSTOP]
    assert backstop.equity >= get_initial_margin(backstop, CTX)


@given(books())
def test_flat_member_without_contribution_never_pays(book: DefaultBook) -> None:
    flat = (MEMBERS[0], 0)
    accounts = dict(book.accounts)
    lots = accounts[flat].positions
    accounts[flat] = RiskAccount(777, 0, ())
    fund = accounts[INSURANCE]
    merged = {iid: q for iid, q, _ in fund.positions}
    for iid, q, _ in lots:
        merged[iid] = merged.get(iid, 0) + q
    accounts[INSURANCE] = RiskAccount(fund.cash, 0, tuple(
        (iid, q, MARKS[iid]) for iid, q in sorted(merged.items()) if q))  # fmt: skip
    contributions = {**book.contributions, MEMBERS[0]: 0}
    after, events = process_liquidations(DefaultBook(accounts, contributions), CTX, (), INSURANCE)
    assert after.accounts[flat] == RiskAccount(777, 0, ())
    assert after.contributions[MEMBERS[0]] == 0
    assert all(e.member != MEMBERS[0] for e in events)


def test_partial_liquidation_restores_initial_margin_via_backstop() -> None:
    # 20 lots of X: IM 2000, MM 1000; equity 900 is below MM.
    member = (MEMBERS[0], 0)
    accounts = {
        member: RiskAccount(900, 0, (("X", 20, 1000),)),
        INSURANCE: RiskAccount(0, 0, (("X", -20, 1000),)),
        BACKSTOP: RiskAccount(10_000, 0, ()),
    }
    after, events = process_liquidations(DefaultBook(accounts, {}), CTX, (BACKSTOP,), INSURANCE)
    left = after.accounts[member]
    # step 6/10: close 12 lots, penalty 1% of 12,000 = 120 (fee 60): 780 >= IM of 8 lots (800)? no
    # step 7/10: close 14 lots, penalty 140 (fee 70): 760 >= IM of 6 lots (600): yes
    assert left.positions == (("X", 6, 1000),) and left.equity == 760
    assert after.accounts[BACKSTOP].positions == (("X", 14, 1000),)
    assert after.accounts[BACKSTOP].cash == 10_070 and after.accounts[INSURANCE].cash == 70
    assert [(e.kind, e.amount) for e in events] == [
        (EventKind.LIQUIDATION_FEE, 70),
        (EventKind.LIQUIDATION_PENALTY, 70),
        (EventKind.LIQUIDATED, 0),
    ]


def test_per_block_cap_liquidates_the_worst_first() -> None:
    capped = MarginContext(ARRAYS, MARKS, 1, 2, LiquidationParams(100, 50, 1, 10))
    worse, better = (MEMBERS[0], 0), (MEMBERS[1], 0)
    accounts = {
        worse: RiskAccount(100, 0, (("X", 20, 1000),)),  # IM 2000, equity 100
        better: RiskAccount(900, 0, (("X", 20, 1000),)),  # IM 2000, equity 900
        INSURANCE: RiskAccount(0, 0, (("X", -40, 1000),)),
    }
    after, events = process_liquidations(DefaultBook(accounts, {}), capped, (), INSURANCE)
    assert {e.member for e in events} == {worse[0]}
    assert after.accounts[better] == accounts[better]
    assert is_liquidatable(after.accounts[better], capped)  # next block's turn


def test_a_reduce_only_backstop_is_passed_over_for_the_insurance_account() -> None:
    member = (MEMBERS[0], 0)
    accounts = {
        member: RiskAccount(900, 0, (("X", 20, 1000),)),
        INSURANCE: RiskAccount(0, 0, (("X", -20, 1000),)),
        BACKSTOP: RiskAccount(10_000, 0, ()),
    }
    short = DefaultBook(accounts, {BACKSTOP[0]: 99}, {BACKSTOP[0]: 100})
    after, events = process_liquidations(short, CTX, (BACKSTOP,), INSURANCE)
    assert after.accounts[BACKSTOP] == accounts[BACKSTOP]
    assert after.accounts[INSURANCE].positions == (("X", -6, 1000),)  # took the 14 lots
    assert {(e.counterparty, e.counterparty_sub_account) for e in events if e.counterparty} == {
        INSURANCE
    }
    topped_up = DefaultBook(accounts, {BACKSTOP[0]: 100}, {BACKSTOP[0]: 100})
    after, _ = process_liquidations(topped_up, CTX, (BACKSTOP,), INSURANCE)
    assert after.accounts[BACKSTOP].positions == (("X", 14, 1000),)


def test_the_houses_loss_on_lots_it_holds_runs_down_the_survivors_layers() -> None:
    """The house took 10 lots of X for a default; the price fell before its auction closed
    and the insurance fund met only part of the variation margin: equity -5,000."""
    short = (MEMBERS[0], 0)
    accounts = {
        INSURANCE: RiskAccount(-5000, 0, (("X", 10, 1000),)),
        short: RiskAccount(40_000, 0, (("X", -10, 1500),)),  # gained 5,000 on the fall
    }
    book = DefaultBook(accounts, {MEMBERS[1]: 3000}, {}, {})
    after, events = process_liquidations(book, CTX, (), INSURANCE)
    assert [e.kind for e in events] == [
        EventKind.COLLATERAL_SEIZED,
        EventKind.CONTRIBUTION_MUTUALISED,
        EventKind.DELEVERAGED,
    ]
    assert after.contributions[MEMBERS[1]] == 0
    assert after.accounts[INSURANCE] == RiskAccount(0, 0, ())  # whole, and flat
    assert after.accounts[short].cash == 40_000 - 2000 and after.accounts[short].positions == ()
    assert total_value(after) == total_value(book) and net_lots(after) == {}


def test_a_house_loss_no_layer_can_meet_changes_nothing_and_is_not_recorded_again() -> None:
    accounts = {INSURANCE: RiskAccount(-5000, 0, ()), (MEMBERS[0], 0): RiskAccount(100, 0, ())}
    book = DefaultBook(accounts, {MEMBERS[0]: 0}, {}, {MEMBERS[0]: 0})
    assert process_liquidations(book, CTX, (), INSURANCE) == (book, ())
