"""A 30% crash that defaults two members, through every layer of the waterfall.

Run on the pure margin and default functions (variation margin applied by hand
as the ledger does at a mark update).
"""

from __future__ import annotations

from clearing.default.default_fund import process_default_fund_epoch
from clearing.default.events import EventKind
from clearing.default.liquidation import (
    DefaultBook,
    MarginContext,
    RiskAccount,
    get_initial_margin,
    is_liquidatable,
    process_liquidations,
)
from clearing.risk.arrays import compute_risk_arrays
from clearing.risk.scenarios import compute_scenario_set, compute_stress_scenario_set
from tests.clearing.risk.sample import INSTRUMENTS, MARKS, T0, params

M = 10**6  # settlement units per USDC
A, B, C, D, E = (bytes([n]) * 20 for n in range(1, 6))
FUND = (b"\x00" * 20, 0)
BACKSTOP = (b"\xbb" * 20, 0)
PRE = {"BTC-PERP": MARKS["BTC-PERP"], "ETH-PERP": MARKS["ETH-PERP"]}
POST = {k: v * 7 // 10 for k, v in PRE.items()}  # everything falls 30%


def crash_book() -> dict[tuple[bytes, int], RiskAccount]:
    return {
        (A, 0): RiskAccount(100_000 * M, 20_000 * M, (("BTC-PERP", 10, PRE["BTC-PERP"]),)),
        (B, 0): RiskAccount(65_000 * M, 0, (("ETH-PERP", 100, PRE["ETH-PERP"]),)),
        (C, 0): RiskAccount(500_000 * M, 0, (("BTC-PERP", -6, 61_000 * M),
                                             ("ETH-PERP", -50, 3_100 * M))),
        (D, 0): RiskAccount(400_000 * M, 0, (("BTC-PERP", -4, 59_000 * M),
                                             ("ETH-PERP", -50, 2_900 * M))),
        (E, 0): RiskAccount(1_000 * M, 0, ()),
        FUND: RiskAccount(10_000 * M, 0, ()),
        BACKSTOP: RiskAccount(10_000 * M, 0, ()),
    }  # fmt: skip


def settle_variation_margin(accounts: dict, before: dict, after: dict) -> dict:  # type: ignore[type-arg]
    out = {}
    for key, a in accounts.items():
        vm = sum(q * (after[iid] - before[iid]) for iid, q, _ in a.positions)
        out[key] = RiskAccount(a.cash + vm, a.collateral_value, a.positions)
    return out


def test_thirty_percent_crash_defaults_two_members_through_every_layer() -> None:
    p = params(stress_days=[], default_fund={"cover": 2, "stress_multiple": 2})
    instruments = INSTRUMENTS[:2]
    arrays = compute_risk_arrays(1, compute_scenario_set(p), instruments, PRE, p, T0)
    stress = compute_risk_arrays(1, compute_stress_scenario_set(p), instruments, PRE, p, T0)
    ctx = MarginContext(arrays, POST, p.k_num, p.k_den, p.liquidation)
    accounts = crash_book()
    assert not any(is_liquidatable(a, ctx) for a in accounts.values())  # fine before the crash

    # Epoch sizing: Cover-2 of stress losses beyond IM; E has no positions and owes nothing.
    holdings = {k: a.quantities() for k, a in accounts.items() if k not in (FUND, BACKSTOP)}
    required, reduce_only, sizing = process_default_fund_epoch(
        holdings, arrays, stress, {}, p.default_fund.cover
    )
    assert required[E] == 0 and E not in reduce_only
    assert sum(required.values()) == 90_000 * M + 84_000 * M  # A's and C's exposures
    # Members posted a tenth of it and so became reduce-only (they never topped up).
    posted = {m: r // 10 for m, r in required.items()}
    assert set(reduce_only) == {A, B, C, D}
    assert {e.member for e in sizing if e.kind is EventKind.REDUCE_ONLY} == {A, B, C, D}

    accounts = settle_variation_margin(accounts, PRE, POST)
    book = DefaultBook(accounts, posted)
    before_value = sum(a.equity for a in accounts.values()) + sum(posted.values())
    after, events = process_liquidations(book, ctx, (BACKSTOP,), FUND)

    # Both defaulters end flat with nothing; value is conserved.
    for key in ((A, 0), (B, 0)):
        assert after.accounts[key] == RiskAccount(0, 0, ())
    assert sum(a.equity for a in after.accounts.values()) + sum(
        after.contributions.values()) == before_value  # fmt: skip

    # A (the larger shortfall) goes first and uses every layer, in order.
    a_events = [e for e in events if (e.member, e.sub_account) == (A, 0) or e.counterparty == A]
    kinds = [e.kind for e in a_events]
    assert kinds[:3] == [EventKind.COLLATERAL_SEIZED, EventKind.OWN_CONTRIBUTION_USED,
                         EventKind.INSURANCE_USED]  # fmt: skip
    assert [e.amount for e in a_events[:3]] == [20_000 * M, posted[A], 10_000 * M]
    shared = EventKind.CONTRIBUTION_MUTUALISED
    mutualised = {e.member: e.amount for e in a_events if e.kind is shared}
    assert mutualised == {B: posted[B], C: posted[C], D: posted[D]}  # all of it, E nothing
    adl = [e for e in a_events if e.kind is EventKind.DELEVERAGED]
    a_loss = 180_000 * M - 100_000 * M  # negative cash after the crash
    paid_before_adl = 20_000 * M + 10_000 * M + sum(posted[m] for m in (A, B, C, D))
    assert sum(e.amount for e in adl) == a_loss - paid_before_adl
    assert {e.member for e in adl} <= {C, D} and sum(e.quantity for e in adl) == 10
    assert all(e.price > POST["BTC-PERP"] for e in adl)  # bankruptcy price above the mark

    # B has no layers left (its own contribution went to A), so ETH shorts absorb all of it.
    b_adl = [e for e in events if e.counterparty == B and e.kind is EventKind.DELEVERAGED]
    assert sum(e.amount for e in b_adl) == 90_000 * M - 65_000 * M
    assert sum(e.quantity for e in b_adl) == 100

    # E never pays; C and D were deleveraged only, and are still margined.
    assert after.accounts[(E, 0)] == accounts[(E, 0)]
    assert not any(e.member == E for e in events)
    for key in ((C, 0), (D, 0)):
        acc = after.accounts[key]
        assert acc.positions == () and acc.equity >= get_initial_margin(acc, ctx)
