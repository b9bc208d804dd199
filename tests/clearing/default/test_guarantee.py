"""The guarantee order (a client's collateral, its clearing member's house, then the
waterfall with the member as the defaulter) and porting, as properties."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.events import DefaultEvent, EventKind
from clearing.default.guarantee import compute_guarantee
from clearing.default.house import HOUSE
from clearing.default.liquidation import DefaultBook, RiskAccount, process_liquidations
from clearing.default.porting import (
    get_free_house_equity,
    get_guarantee_need,
    process_member_default,
)
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import (
    Position,
    get_account_equity,
    get_member_for_write,
    get_sub_account_for_write,
)
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.default.test_clients import C, M, N, X, client_doc
from tests.clearing.default.test_crash_ledger import total_value
from tests.clearing.default.test_liquidation import BACKSTOP, CTX, INSURANCE, MARKS, MEMBERS, books
from tests.clearing.default.test_liquidation import total_value as book_value
from tests.clearing.support import USDC

MEMBER, CLIENTS = MEMBERS[0], MEMBERS[1:3]  # MEMBERS[0] guarantees MEMBERS[1] and [2]
LATER_LAYERS = (EventKind.OWN_CONTRIBUTION_USED, EventKind.INSURANCE_USED,
                EventKind.CONTRIBUTION_MUTUALISED, EventKind.ASSESSED)  # fmt: skip


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_the_guarantee_takes_collateral_then_the_house(loss: int, collateral: int) -> None:
    plan = compute_guarantee(loss, collateral)
    assert plan.from_collateral + plan.from_house == loss
    assert plan.from_collateral == min(loss, collateral)
    assert plan.from_house == 0 or plan.from_collateral == collateral  # collateral first


def guaranteed(book: DefaultBook) -> DefaultBook:
    return DefaultBook(book.accounts, book.contributions, book.required, book.assessable,
                       dict.fromkeys(CLIENTS, MEMBER))  # fmt: skip


def steps_of(events: tuple[DefaultEvent, ...], client: bytes) -> list[DefaultEvent]:
    """A client default's steps: those naming its account, or paid to it."""
    key = (client, 0)
    return [e for e in events
            if (e.member, e.sub_account) == key
            or (e.counterparty, e.counterparty_sub_account) == key]  # fmt: skip


@given(books())
def test_a_clients_loss_meets_its_members_house_before_anything_mutualised(
    book: DefaultBook,
) -> None:
    """A bankrupt client's loss is met by its collateral and its member's house alone; a
    house that cannot pay defaults in the same run, its own resources (its collateral,
    then its contribution) paying before the insurance fund and anyone else's, and is
    left flat. Value is conserved and no account is left owing."""
    book = guaranteed(book)
    after, events = process_liquidations(book, CTX, (BACKSTOP,), INSURANCE)
    assert book_value(after) == book_value(book)
    assert all(a.equity >= 0 for k, a in after.accounts.items() if k != INSURANCE)
    house = (MEMBER, 0)
    for client in CLIENTS:
        steps = steps_of(events, client)
        kinds = [e.kind for e in steps]
        if EventKind.COLLATERAL_SEIZED not in kinds:
            continue  # not bankrupt
        assert all(e.member == MEMBER for e in steps if e.kind is EventKind.GUARANTEE_PAID)
        assert not [e for e in steps if e.kind in LATER_LAYERS and e.amount]  # met in full
    if not any(e.kind is EventKind.GUARANTEE_FAILED for e in events):
        return
    assert after.accounts[house].positions == () and after.accounts[house].collateral_value == 0
    charged = [e for e in events if (e.member, e.sub_account) == house
               or (e.counterparty, e.counterparty_sub_account) == house
               or (e.kind is EventKind.GUARANTEE_FAILED and e.member == MEMBER)]  # fmt: skip
    failed = [i for i, e in enumerate(charged) if e.kind is EventKind.GUARANTEE_FAILED]
    for start, end in zip(failed, [*failed[1:], len(charged)], strict=True):
        kinds = [e.kind for e in charged[start + 1 : end]
                 if e.kind is EventKind.COLLATERAL_SEIZED or (e.kind in LATER_LAYERS and e.amount)
                 or e.kind is EventKind.OWN_CONTRIBUTION_USED]  # fmt: skip
        # its own collateral, then its own contribution, then the insurance fund and others
        assert kinds[:2] == [EventKind.COLLATERAL_SEIZED, EventKind.OWN_CONTRIBUTION_USED]
    # once it has defaulted, the member's contribution is its own layer, never a mutualised
    # or assessed one (before, as a survivor, it may have paid into an earlier default)
    assert all(e.member != MEMBER for e in charged[failed[0]:] if e.kind in
               (EventKind.CONTRIBUTION_MUTUALISED, EventKind.ASSESSED))  # fmt: skip


def test_a_client_short_of_collateral_is_met_by_its_member_alone() -> None:
    client, member = (CLIENTS[0], 0), (MEMBER, 0)
    accounts = {
        client: RiskAccount(-700, 200, (("X", 10, MARKS["X"]),)),
        member: RiskAccount(10_000, 0, ()),
        INSURANCE: RiskAccount(5_000, 0, (("X", -10, MARKS["X"]),)),
    }
    book = guaranteed(DefaultBook(accounts, {MEMBER: 300, MEMBERS[3]: 400}, {}, {}))
    after, events = process_liquidations(book, CTX, (), INSURANCE)
    kinds = [(e.kind, e.member, e.amount) for e in events if e.amount]
    assert (EventKind.COLLATERAL_SEIZED, CLIENTS[0], 200) in kinds
    assert any(k == EventKind.GUARANTEE_PAID and m == MEMBER for k, m, _ in kinds)
    assert after.contributions == book.contributions  # nothing mutualised, no fund used
    assert after.accounts[INSURANCE].cash >= accounts[INSURANCE].cash


CLIENT_KEYS = [derive_member_key(f"porting-{n}") for n in range(5)]
BACKUPS = [N.address, C.address, X.address, NO_MEMBER, M.address]  # two admitted


@st.composite
def client_books(draw: st.DrawFn) -> list[tuple[SegregationModel, bytes, int, int, int]]:
    """Per client: model, backup, BTC lots, ETH lots, USDC collateral."""
    return [
        (draw(st.sampled_from(SegregationModel)), draw(st.sampled_from(BACKUPS)),
         draw(st.integers(-50, 50)), draw(st.integers(-200, 200)),
         draw(st.integers(0, 5_000)) * 1_000_000)
        for _ in CLIENT_KEYS
    ]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(client_books(), st.integers(0, 3_000))
def test_porting_conserves_value_and_never_touches_a_clients_collateral(
    rows: list[tuple[SegregationModel, bytes, int, int, int]], headroom_usd: int
) -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    state = box.state
    state.clients.clear()
    for key, (model, backup, btc, eth, usdc) in zip(CLIENT_KEYS, rows, strict=True):
        state.clients[key.address] = ClientAccount(M.address, model, backup)
        account = get_sub_account_for_write(state, key.address, 0)
        account.collateral[USDC] = usdc
        for iid, lots in (("BTC-PERP", btc), ("ETH-PERP", eth)):
            mark = state.mark_prices[iid]
            if lots:
                account.positions[iid] = Position(lots, mark, mark)
                house = get_sub_account_for_write(state, *HOUSE)  # the other side
                house.positions[iid] = Position(
                    house.positions.get(iid, Position()).quantity - lots, mark, mark
                )
    get_sub_account_for_write(state, N.address, 0).cash = headroom_usd * 1_000_000
    before_value = total_value(state)
    before = {a: (get_account_equity(state, m.sub_accounts[0]), dict(m.sub_accounts[0].collateral),
                  {i: p.quantity for i, p in m.sub_accounts[0].positions.items()})
              for a, m in state.members.items() if a in state.clients}  # fmt: skip
    needs = {a: get_guarantee_need(state, a) for a in state.clients}
    room = {b: get_free_house_equity(state, b) for b in (N.address, C.address)}

    process_member_default(state, M.address)

    assert total_value(state) == before_value
    taken: dict[bytes, int] = {}
    for address, (equity, collateral, positions) in before.items():
        account = state.members[address].sub_accounts[0]
        assert get_account_equity(state, account) == equity  # its value stays its own
        assert account.collateral == collateral
        record = state.clients[address]
        if record.is_attached():
            assert record.clearing_member in (N.address, C.address)
            assert {i: p.quantity for i, p in account.positions.items()} == positions
            taken[record.clearing_member] = taken.get(record.clearing_member, 0) + needs[address]
        else:
            assert all(p.quantity == 0 for p in account.positions.values())
    assert all(taken[b] <= room[b] for b in taken)  # a backup guarantees within its headroom
    omnibus = [k for k, row in zip(CLIENT_KEYS, rows, strict=True)
               if row[0] is SegregationModel.OMNIBUS]  # fmt: skip
    omnibus_ported = {state.clients[k.address].is_attached() for k in omnibus}
    assert len(omnibus_ported) <= 1  # an omnibus account ports whole or not at all


def test_two_defaults_in_a_block_share_a_backups_headroom() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    state = box.state
    state.clients.clear()
    first, second = CLIENT_KEYS[:2]
    for key, member in ((first, M), (second, C)):
        state.clients[key.address] = ClientAccount(member.address, SegregationModel.SEGREGATED,
                                                   N.address)  # fmt: skip
        account = get_sub_account_for_write(state, key.address, 0)
        mark = state.mark_prices["BTC-PERP"]
        account.positions["BTC-PERP"] = Position(100, mark, mark)  # no collateral: all need
        house = get_sub_account_for_write(state, *HOUSE)
        house.positions["BTC-PERP"] = Position(
            house.positions.get("BTC-PERP", Position()).quantity - 100, mark, mark
        )
    need = get_guarantee_need(state, first.address)
    assert need > 0
    get_sub_account_for_write(state, N.address, 0).cash = need * 3 // 2
    headroom: dict[bytes, int] = {}
    process_member_default(state, M.address, headroom)
    process_member_default(state, C.address, headroom)
    assert state.clients[first.address].clearing_member == N.address
    assert state.clients[second.address].clearing_member == NO_MEMBER  # N had room for one


def open_segregated_client(state: Any, backup: bytes) -> bytes:
    """CLIENT_KEYS[0] under M, segregated, backed by ``backup``, holding nothing."""
    state.clients.clear()
    client = CLIENT_KEYS[0].address
    state.clients[client] = ClientAccount(M.address, SegregationModel.SEGREGATED, backup)
    return client


def test_a_backup_whose_contribution_the_default_used_still_takes_its_client() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    client = open_segregated_client(box.state, N.address)
    backup = get_member_for_write(box.state, N.address)
    backup.default_fund_required, backup.default_fund = 1_000_000, 0  # mutualised this block
    process_member_default(box.state, M.address)
    assert box.state.clients[client].clearing_member == N.address


def test_a_backup_defaulting_in_the_same_block_takes_no_client() -> None:
    box = Sandbox.from_genesis_doc(client_doc())
    client = open_segregated_client(box.state, N.address)
    process_member_default(box.state, M.address, {}, {M.address, N.address})
    assert box.state.clients[client].clearing_member == NO_MEMBER


def test_clients_naming_a_defaulted_member_as_backup_name_none_and_are_told() -> None:
    """C's segregated client named M its backup; M defaults: the client stays under C
    with no backup (an event in its history says which it lost), and M's own client is
    still ported to N."""
    box = Sandbox.from_genesis_doc(client_doc())
    own = open_segregated_client(box.state, N.address)
    other = CLIENT_KEYS[1].address
    box.state.clients[other] = ClientAccount(C.address, SegregationModel.SEGREGATED, M.address)
    events = process_member_default(box.state, M.address)
    assert box.state.clients[other] == ClientAccount(C.address, SegregationModel.SEGREGATED)
    assert box.state.clients[own].clearing_member == N.address
    (lost,) = [e for e in events if e.kind == "client_backup_lost"]
    assert (lost.get("member"), lost.get("backup"), lost.get("clearing_member")) == (
        other,
        M.address,
        C.address,
    )
