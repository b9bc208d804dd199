"""Clearing members and their clients through process_block: a crash defaults a clearing
member through an omnibus client's loss; the guarantee pays in order, the segregated
client is ported to its backup with its positions and collateral and trades on there.

Clearing member M guarantees OMNI (omnibus, levered long BTC) and S (individually
segregated, long ETH, well collateralised); N is both clients' backup; C and D are
clearing members that take the other side. A 30% crash makes OMNI bankrupt: its collateral,
then M's free house equity, then (the guarantee failed: M has defaulted) M's own
contribution, the insurance fund, the others' contributions.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from clearing.default.house import HOUSE
from clearing.risk.engine import get_account_initial_margin
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import get_account_equity
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.withdrawable import get_withdrawable
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.default.test_auction import bid, register
from tests.clearing.default.test_crash_ledger import LEVERED, field, of, total_value
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, genesis_doc, only_result
from tests.clearing.test_trade import VENUE, VENUE_KEY

M, N, C, D, OMNI, S, X = (derive_member_key(f"clients-{n}") for n in "mncdosx")
BTC, ETH = "BTC-PERP", "ETH-PERP"
USD = 1_000_000


def hexed(key: MemberKey) -> str:
    return "0x" + key.address.hex()


def client_doc(segregated_backup: MemberKey | None = N, window: int = 0) -> dict[str, Any]:
    doc = genesis_doc()
    if window:
        doc["porting_window_blocks"] = window
    doc["risk"] = genesis_risk_section(
        underlyings={"BTC": LEVERED, "ETH": LEVERED}, stress_days=[],
        default_fund={"cover": 2, "stress_multiple": 2, "assessment_cap_bps": 0},
    )  # fmt: skip
    doc["oracle"]["max_move_bps"] = 5000
    doc["epoch_length_blocks"] = 3
    doc["clearing_members"] = [hexed(k) for k in (M, N, C, D)]
    segregated: dict[str, Any] = {"address": hexed(S), "clearing_member": hexed(M),
                                  "model": "segregated"}  # fmt: skip
    if segregated_backup is not None:
        segregated["backup"] = hexed(segregated_backup)
    doc["clients"] = [
        {"address": hexed(OMNI), "clearing_member": hexed(M), "model": "omnibus",
         "backup": hexed(N)},
        segregated,
    ]  # fmt: skip
    return doc


def trade(box: Sandbox, batch_id: int, fills: list[tuple[MemberKey, MemberKey, str, int]]) -> Any:
    marks = dict(box.state.mark_prices)
    batch = tuple(
        Trade(batch_id * 100 + n, iid, buyer.address, 0, seller.address, 0, marks[iid], lots)
        for n, (buyer, seller, iid, lots) in enumerate(fills, 1)
    )
    return box.apply(
        [sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, batch_id, batch, *box.get_times())]
    )


FILLS = [(OMNI, C, BTC, 100), (S, C, ETH, 10), (D, C, ETH, 5)]


def start(
    segregated_backup: MemberKey | None = N,
    funds_usd: dict[MemberKey, int] | None = None,
    fills: list[tuple[MemberKey, MemberKey, str, int]] = FILLS,
    window: int = 0,
) -> Sandbox:
    """Funded, authorised, trades open (height 2) and the default fund sized (height 3)."""
    box = Sandbox.from_genesis_doc(client_doc(segregated_backup, window))
    funds = {M: 600 * USD, N: 10**11, C: 10**11, D: 10**11, OMNI: 400 * USD, S: 500 * USD,
             X: 10**9}  # fmt: skip
    funds.update({k: v * USD for k, v in (funds_usd or {}).items()})
    txs: list[Any] = [box.credit(k.address, USDC, q) for k, q in funds.items()]
    txs.append(box.credit(HOUSE[0], USDC, 50 * USD))
    txs += [box.authorise(k, VENUE) for k in (M, N, C, D, OMNI, S, X)]
    assert all(r.is_ok() for r in box.apply(txs).tx_results)
    block = trade(box, 1, fills)
    assert [e.kind for e in block.tx_results[0].events] == ["trade_batch"], block.tx_results
    box.apply([])  # height 3: the epoch sizes the default fund
    return box


def crash(box: Sandbox, percent: int = 30) -> list[Any]:
    marks = dict(box.state.mark_prices)
    crashed = {i: marks[i] * (100 - percent) // 100 for i in (BTC, ETH)}
    update = box.prices({"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]}, crashed)
    block = box.apply([update])
    assert block.tx_results[0].is_ok()
    return list(block.events)


def test_clients_owe_no_contribution_and_count_in_their_members() -> None:
    box = start()
    members = box.state.members
    assert members[OMNI.address].default_fund_required == 0
    assert members[S.address].default_fund_required == 0
    assert members[M.address].default_fund_required > 0  # M holds no position of its own
    assert members[M.address].default_fund > 0  # topped up from its house account


def test_a_crash_defaults_the_member_and_ports_its_segregated_client() -> None:
    box = start()
    s_before = box.state.members[S.address].sub_accounts[0]
    s_equity = get_account_equity(box.state, s_before)
    s_positions = {i: p.quantity for i, p in s_before.positions.items()}
    eth_mark = box.state.mark_prices[ETH]
    m_posted = box.state.members[M.address].default_fund
    before = total_value(box.state)

    events = crash(box)
    assert total_value(box.state) == before  # nothing created or destroyed

    # OMNI's loss: its collateral, then M's house in full, which that leaves insolvent: M
    # has defaulted, and its house runs down the waterfall as its own default, its own
    # resources (collateral, contribution) before the insurance fund and anyone else's.
    o, m = OMNI.address, M.address
    steps = [e.kind for e in events if o in (field(e, "member"), field(e, "counterparty"))]
    order = ["collateral_seized", "guarantee_paid", "guarantee_failed"]
    assert list(dict.fromkeys(k for k in steps if k in order)) == order
    assert of(events, "collateral_seized", member=o)[0].get("amount") > 0
    assert of(events, "guarantee_paid", member=m, counterparty=o)[0].get("amount") > 0
    later = ["own_contribution_used", "insurance_used", "contribution_mutualised"]
    assert not [k for k in steps if k in later]  # the client's loss is met in full
    m_steps = [e.kind for e in events if m in (field(e, "member"), field(e, "counterparty"))
               and e.kind != "guarantee_failed"]  # fmt: skip
    m_order = ["collateral_seized", *later]
    assert list(dict.fromkeys(k for k in m_steps if k in m_order)) == m_order
    assert of(events, "own_contribution_used", member=m)[0].get("amount") == m_posted
    mutualised = {e.get("member") for e in of(events, "contribution_mutualised")}
    assert m not in mutualised and {o, S.address} & mutualised == set()
    (record,) = [r for r in box.state.defaults if r.member == o]
    assert record.is_covered() and sum(record.get_layers()[1:]) == 0
    (house,) = [r for r in box.state.defaults if r.member == m]
    assert house.is_covered() and house.get_layers()[1] == m_posted
    assert not box.state.members[m].sub_accounts[0].positions  # closed out

    # M defaulted: no longer admitted; both clients ported to N, S untouched.
    assert m not in box.state.clearing_members
    assert of(events, "clearing_member_defaulted", member=m)
    ported = {e.get("client"): e.get("clearing_member") for e in of(events, "ported")}
    assert ported == {S.address: N.address, o: N.address}
    assert box.state.clients[S.address] == ClientAccount(N.address, SegregationModel.SEGREGATED)
    s_after = box.state.members[S.address].sub_accounts[0]
    own_loss = 10 * (eth_mark - box.state.mark_prices[ETH])  # its own variation margin
    assert get_account_equity(box.state, s_after) == s_equity - own_loss  # nothing else
    assert {i: p.quantity for i, p in s_after.positions.items()} == s_positions

    # S keeps trading under N (with N's house, whose contribution no default used);
    # M's house cannot trade any more.
    block = trade(box, 2, [(S, N, ETH, 1)])
    assert [e.kind for e in block.tx_results[0].events] == ["trade_batch"], block.tx_results
    assert box.state.members[S.address].sub_accounts[0].positions[ETH].quantity == 11
    block = trade(box, 3, [(M, C, ETH, 1)])
    assert block.tx_results[0].events[0].kind == "trade_rejected"
    assert field(block.tx_results[0].events[0], "code") == "NotCleared"


def test_a_client_without_a_backup_is_closed_out_and_keeps_its_value() -> None:
    box = start(segregated_backup=None)
    events = crash(box)
    s = S.address
    account = box.state.members[s].sub_accounts[0]
    closed = of(events, "client_closed_out", member=s)
    assert [(e.get("instrument"), e.get("quantity")) for e in closed] == [(ETH, 10)]
    assert all(p.quantity == 0 for p in account.positions.values())
    assert get_account_equity(box.state, account) > 0  # its value stays its own
    assert box.state.clients[s].clearing_member == NO_MEMBER
    block = trade(box, 2, [(S, C, ETH, 1)])
    assert field(block.tx_results[0].events[0], "code") == "NotCleared"
    assert box.state.auctions  # the house auctions what it took, S among others may not bid
    auction = min(box.state.auctions)
    assert box.apply([register(box, S)]).tx_results[0].is_ok()
    assert only_result(box.apply([bid(box, S, auction, 0)]))[0] == "NotCleared"


def test_an_address_neither_admitted_nor_a_client_does_not_trade() -> None:
    box = start()
    block = trade(box, 2, [(X, C, ETH, 1)])
    assert field(block.tx_results[0].events[0], "code") == "NotCleared"


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 300), st.integers(0, 200), st.integers(1, 2_000), st.integers(0, 100),
    st.integers(1, 20), st.integers(10, 45),
)  # fmt: skip
def test_a_segregated_client_loses_nothing_to_its_fellow_client_or_its_member(
    omni_lots: int, m_lots: int, m_extra: int, omni_extra: int, s_lots: int, percent: int
) -> None:
    """Whatever the omnibus client's and the member's own losses, the fully funded
    segregated client's equity moves by its own variation margin alone, and its positions
    follow it to its backup."""
    fills = [(OMNI, C, BTC, omni_lots), (S, C, ETH, s_lots)]
    if m_lots:
        fills.append((M, C, BTC, m_lots))
    s_usd = s_lots * 30 + 1  # the whole notional: it never defaults itself
    margin = {OMNI: omni_lots * 6 + omni_extra, M: m_lots * 6 + m_extra, S: s_usd}  # 10%
    box = start(funds_usd=margin, fills=fills)
    account = box.state.members[S.address].sub_accounts[0]
    equity, eth_mark = get_account_equity(box.state, account), box.state.mark_prices[ETH]
    before = total_value(box.state)
    crash(box, percent)
    assert total_value(box.state) == before
    account = box.state.members[S.address].sub_accounts[0]
    own_loss = s_lots * (eth_mark - box.state.mark_prices[ETH])
    assert get_account_equity(box.state, account) == equity - own_loss
    assert account.positions[ETH].quantity == s_lots
    defaulted = M.address not in box.state.clearing_members
    event(f"member defaulted: {defaulted}")
    assert box.state.clients[S.address].clearing_member == (N.address if defaulted else M.address)


def test_a_clients_shortfall_counts_against_its_members_margin() -> None:
    box = start()
    m, omni = M.address, OMNI.address
    house = box.state.members[m].sub_accounts[0]
    free = get_withdrawable(box.state, m, 0, house)[0].quanta
    assert free > 0
    client = box.state.members[omni].sub_accounts[0]
    im = get_account_initial_margin(box.state, client)
    short = get_account_equity(box.state, client) - im + 7 * USD  # 7 USD below its margin
    client.cash -= short
    box.state.dirty.add(omni)
    assert get_withdrawable(box.state, m, 0, house)[0].quanta == free - 7 * USD
    code, _ = only_result(box.apply([box.withdraw(M, USDC, free)]))
    assert code == "InsufficientEquity"
