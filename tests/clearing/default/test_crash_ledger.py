"""A 30% crash through process_block that defaults two members, every layer checked.

Levered members (5% scan ranges, no stress days) and an oracle allowed to move
50% in a block, so the whole move lands at once. The epoch before the crash
sizes the default fund (Cover-2 at a 10% stress) and tops it up from free equity.
"""

from __future__ import annotations

from clearing.default.house import HOUSE
from clearing.events import Event
from clearing.risk.engine import get_account_initial_margin
from clearing.state import ClearingState, get_collateral_value
from clearing.transition.trade import Trade, sign_trade_batch
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, genesis_doc
from tests.clearing.test_trade import VENUE, VENUE_KEY

A, B, C, D, E = (derive_member_key(f"crash-{n}") for n in "abcde")
BTC, ETH = "BTC-PERP", "ETH-PERP"
LEVERED = {"group": "majors", "scan_bps": 500, "vol_bps": 6000, "vol_scan_bps": 0, "floor_bps": 0}


def crash_box(assessment_cap_bps: int = 0) -> Sandbox:
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(
        underlyings={"BTC": LEVERED, "ETH": LEVERED}, stress_days=[],
        default_fund={"cover": 2, "stress_multiple": 2,
                      "assessment_cap_bps": assessment_cap_bps},
    )  # fmt: skip
    doc["oracle"]["max_move_bps"] = 5000
    doc["epoch_length_blocks"] = 3
    box = Sandbox.from_genesis_doc(doc)
    funds = {A: 400_000_000, B: 2_000_000_000, C: 10**11, D: 10**11, E: 10**9}
    txs: list[object] = [box.credit(m.address, USDC, q) for m, q in funds.items()]
    txs.append(box.credit(HOUSE[0], USDC, 50_000_000))  # the insurance fund
    txs += [box.authorise(m, VENUE) for m in (A, B, C, D)]
    assert all(r.is_ok() for r in box.apply(txs).tx_results)  # type: ignore[arg-type]
    return box


def trades(box: Sandbox) -> None:
    marks = dict(box.state.mark_prices)
    fills = [(A, C, BTC, 60), (A, D, BTC, 40), (B, C, ETH, 500), (B, D, ETH, 500)]
    batch = tuple(
        Trade(n, iid, buyer.address, 0, seller.address, 0, marks[iid], lots)
        for n, (buyer, seller, iid, lots) in enumerate(fills, 1)
    )
    block = box.apply(
        [sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, 1, batch, *box.get_times())]
    )
    assert [e.kind for e in block.tx_results[0].events] == ["trade_batch"], block.tx_results


def total_value(state: ClearingState) -> int:
    accounts = sum(a.cash + get_collateral_value(state, a)
                   for m in state.members.values() for a in m.sub_accounts.values())  # fmt: skip
    return accounts + state.insurance_fund + state.fee_pool + sum(
        m.default_fund for m in state.members.values())  # fmt: skip


def field(event: Event, name: str) -> object:
    return dict(event.data).get(name)


def of(events: list[Event], kind: str, **match: object) -> list[Event]:
    return [e for e in events if e.kind == kind and all(field(e, k) == v for k, v in match.items())]


def test_crash_defaults_two_members_through_every_layer_on_the_ledger() -> None:
    box = crash_box()
    trades(box)
    epoch = list(box.apply([]).events)  # height 3: Cover-2 sizing and top-ups
    required = {e.get("member"): e.get("amount") for e in of(epoch, "contribution_required")}
    assert required[E.address] == 0
    assert {e.get("member") for e in of(epoch, "reduce_only")} == {A.address, B.address}
    posted = {m.address: box.state.members[m.address].default_fund for m in (A, B, C, D)}
    for m in (A, B):  # topped up with all their free equity, still short
        account = box.state.members[m.address].sub_accounts[0]
        equity = account.cash + get_collateral_value(box.state, account)
        assert 0 < posted[m.address] < required[m.address]
        assert equity == get_account_initial_margin(box.state, account)
    assert posted[C.address] == required[C.address] > 0
    cash_before = {m.address: box.state.members[m.address].sub_accounts[0].cash for m in (A, B)}

    before = total_value(box.state)
    insurance_before = box.state.insurance_fund  # 50 USD at genesis plus its share of fees
    marks = dict(box.state.mark_prices)
    crashed = {BTC: marks[BTC] * 7 // 10, ETH: marks[ETH] * 7 // 10}
    update = box.prices({"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]}, crashed)
    block = box.apply([update])
    assert block.tx_results[0].is_ok() and box.state.mark_prices == {**marks, **crashed}
    events = list(block.events)
    assert total_value(box.state) == before  # nothing created or destroyed

    # B has the larger shortfall: every layer, in order.
    b = B.address
    layers = [e.kind for e in events if b in (field(e, "member"), field(e, "counterparty"))]
    order = ["collateral_seized", "own_contribution_used", "insurance_used",
             "contribution_mutualised", "deleveraged"]  # fmt: skip
    assert [k for k in order if k in layers] == order
    assert layers.index("collateral_seized") < layers.index("own_contribution_used") < \
        layers.index("insurance_used") < layers.index("contribution_mutualised") < \
        layers.index("deleveraged")  # fmt: skip
    # its 2,000 USDC less the 15 of trading fees they paid at once
    assert of(events, "collateral_seized", member=b)[0].get("amount") == 1_985_000_000
    assert of(events, "own_contribution_used", member=b)[0].get("amount") == posted[b]
    assert of(events, "insurance_used", member=b)[0].get("amount") == insurance_before
    mutualised = {e.get("member"): e.get("amount")
                  for e in of(events, "contribution_mutualised", counterparty=b)}  # fmt: skip
    assert mutualised == {A.address: posted[A.address], C.address: posted[C.address],
                          D.address: posted[D.address]}  # fmt: skip
    b_loss = 1000 * (marks[ETH] - crashed[ETH]) - cash_before[b]  # its cash after the crash
    covered = 1_985_000_000 + posted[b] + insurance_before + sum(mutualised.values())
    adl_b = of(events, "deleveraged", counterparty=b)
    assert sum(int(e.get("amount")) for e in adl_b) == b_loss - covered
    assert {e.get("member") for e in adl_b} <= {C.address, D.address}

    # A defaults second: only its collateral is left before ADL.
    a = A.address
    assert of(events, "collateral_seized", member=a)[0].get("amount") == 397_000_000  # less fees
    assert of(events, "own_contribution_used", member=a)[0].get("amount") == 0
    adl_a = of(events, "deleveraged", counterparty=a)
    a_loss = 100 * (marks[BTC] - crashed[BTC]) - cash_before[a]
    assert sum(int(e.get("amount")) for e in adl_a) == a_loss - 397_000_000
    assert sum(int(e.get("quantity")) for e in adl_a) == 100

    # Defaulters end flat with nothing; E never pays; nobody holds a net position.
    for m in (A, B):
        account = box.state.members[m.address].sub_accounts[0]
        assert account.cash == 0 and account.collateral == {}
        assert all(p.quantity == 0 for p in account.positions.values())
    assert not [e for e in events if E.address in (field(e, "member"), field(e, "counterparty"))]
    e_account = box.state.members[E.address].sub_accounts[0]
    assert e_account.cash == 0 and e_account.collateral == {USDC: 10**9}


def test_assessments_come_after_the_default_fund_and_before_deleveraging() -> None:
    box = crash_box(assessment_cap_bps=5_000)  # up to half a required contribution
    trades(box)
    box.apply([])  # the epoch sizes and tops up the default fund
    required = {m.address: box.state.members[m.address].default_fund_required for m in (C, D)}
    assert box.state.default_fund_cover and all(required.values())
    before = total_value(box.state)
    marks = dict(box.state.mark_prices)
    crashed = {BTC: marks[BTC] * 7 // 10, ETH: marks[ETH] * 7 // 10}
    events = list(box.apply([box.prices({"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]},
                                        crashed)]).events)  # fmt: skip
    assert total_value(box.state) == before
    b = B.address
    layers = [e.kind for e in events if b in (field(e, "member"), field(e, "counterparty"))]
    assert layers.index("contribution_mutualised") < layers.index("assessed") < \
        layers.index("deleveraged")  # fmt: skip
    paid: dict[object, int] = {}
    for event in of(events, "assessed"):
        paid[event.get("member")] = paid.get(event.get("member"), 0) + int(event.get("amount"))
    assert set(paid) <= {C.address, D.address}  # survivors only, never a defaulter
    for member, amount in paid.items():
        assert amount == box.state.members[member].assessed <= required[member] // 2  # type: ignore[index]
    assert paid and box.state.members[A.address].assessed == box.state.members[b].assessed == 0
    box.apply([box.prices({"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]}, crashed)])
    box.apply([])  # the next epoch: the assessment powers renew
    assert all(box.state.members[m].assessed == 0 for m in required)
