"""The house's collateral becomes settlement cash within a bound (clearing/default/house.py,
collateral_sale.py): sold to buyers every block, allocated at each close-out height."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.collateral import get_collateral_quanta
from clearing.default.house import HOUSE, get_house_bound, get_house_equity
from clearing.state import (
    ClearingState,
    get_collateral_value,
    get_sub_account_for_write,
    get_value_per_quantum,
)
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.support import WETH, fund_vaults, genesis_doc, get_cash_supply

WETH_VALUE = 2_700  # haircut value per quantum at the example's ETH/quantum 3_000
MEMBERS = [derive_member_key(f"member-{n}") for n in range(4)]


def new_box(house_weth: int, backstop: bytes | None = None) -> Sandbox:
    """The house bought ``house_weth`` WETH from a defaulter at its haircut value."""
    doc = genesis_doc()
    doc["risk"]["auction"] = {"window_blocks": 2, "rounds": 2, "split": 2}  # a bound of 4
    if backstop is not None:
        doc["risk"]["backstops"] = [{"member": "0x" + backstop.hex(), "sub_account": 0}]
    box = Sandbox.from_genesis_doc(doc)
    box.apply([box.credit(m.address, WETH, 1_000) for m in MEMBERS])
    get_sub_account_for_write(box.state, *HOUSE).collateral[WETH] = house_weth
    box.state.insurance_fund -= house_weth * WETH_VALUE
    fund_vaults(box.state)
    return box


def run_to_close_out(box: Sandbox) -> list[tuple[str, bytes, int, int]]:
    """Blocks up to and including the next close-out height: (kind, taker, quanta, paid)."""
    sales = []
    while True:
        block = box.apply([])
        sales += [(e.kind, e.get("counterparty"), e.get("quanta"), e.get("amount"))
                  for e in block.events if e.kind.startswith("collateral_")]  # fmt: skip
        if box.state.height % get_house_bound(box.state) == 0:
            return sales  # type: ignore[return-value]


def house_collateral(state: ClearingState) -> dict[tuple[int, bytes], int]:
    return dict(state.members[HOUSE[0]].sub_accounts[0].collateral)


def get_value(state: ClearingState) -> int:
    """Money, and every collateral quantum at its haircut value."""
    held = sum(get_collateral_value(state, a)
               for m in state.members.values() for a in m.sub_accounts.values())  # fmt: skip
    return get_cash_supply(state) + held


def test_a_buyer_pays_first_and_cash_holders_take_the_rest_pro_rata_at_the_close_out() -> None:
    backstop, rich, richer = (m.address for m in MEMBERS[:3])
    box = new_box(100, backstop)
    for member, cash in ((backstop, 10 * WETH_VALUE), (rich, 30 * WETH_VALUE + 5),
                         (richer, 60 * WETH_VALUE)):  # fmt: skip
        get_sub_account_for_write(box.state, member, 0).cash = cash
    equity, value = get_house_equity(box.state), get_value(box.state)
    (sale,) = [e for e in box.apply([]).events if e.kind.startswith("collateral_")]
    assert (sale.kind, sale.get("counterparty"), sale.get("quanta")) == (
        "collateral_sold", backstop, 10,
    )  # fmt: skip
    assert house_collateral(box.state) == {WETH: 90}
    sales = run_to_close_out(box)
    # 90 quanta for 90 affordable (30 + 60): each takes what its cash pays for
    assert sorted(sales) == sorted(
        [
            ("collateral_allocated", rich, 30, 30 * WETH_VALUE),
            ("collateral_allocated", richer, 60, 60 * WETH_VALUE),
        ]
    )
    assert house_collateral(box.state) == {}
    assert get_sub_account_for_write(box.state, rich, 0).cash == 5  # cash never goes negative
    assert get_house_equity(box.state) == equity and get_value(box.state) == value


def test_what_no_cash_pays_for_is_given_pro_rata_to_equity() -> None:
    box = new_box(10)
    for n, member in enumerate(MEMBERS):  # equities 1, 2, 3 and 0 thousand WETH
        account = get_sub_account_for_write(box.state, member.address, 0)
        account.collateral[WETH] = 1_000 * ((n + 1) % 4)
        if not account.collateral[WETH]:
            del account.collateral[WETH]
    fund_vaults(box.state)
    equity, value = get_house_equity(box.state), get_value(box.state)
    sales = run_to_close_out(box)
    given_ = {taker: quanta for _, taker, quanta, paid in sales if not paid}
    assert given_ == {m.address: q for m, q in zip(MEMBERS, (2, 3, 5), strict=False)}
    assert house_collateral(box.state) == {}
    assert get_value(box.state) == value  # moved to the members, not created
    assert get_house_equity(box.state) == equity - 10 * WETH_VALUE


ACCOUNT = st.tuples(st.integers(-(10**6), 10**7), st.integers(0, 2_000), st.booleans())


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5_000),
    st.lists(ACCOUNT, min_size=1, max_size=len(MEMBERS)),
    st.sampled_from([0, 1, 3_000]),
    st.integers(0, 4),
)
def test_the_house_holds_no_collateral_after_the_close_out_and_no_value_is_created(
    house_weth: int, accounts: list[tuple[int, int, bool]], eth_price: int, start: int
) -> None:
    box = new_box(house_weth, MEMBERS[0].address)
    for _ in range(start):  # any height in the close-out cycle
        box.apply([])
    for member, (cash, weth, bidder) in zip(MEMBERS, accounts, strict=False):
        record = box.state.members[member.address]
        record.bidder = bidder
        account = get_sub_account_for_write(box.state, member.address, 0)
        account.collateral[WETH] = weth
        if not weth:
            del account.collateral[WETH]
        box.state.index_prices["ETH/quantum"] = eth_price  # 0 and 1: worth 0 after haircut
        account.cash = max(cash, -weth * get_value_per_quantum(box.state, WETH))  # solvent
    fund_vaults(box.state)
    quanta, value = get_collateral_quanta(box.state), get_value(box.state)
    height = box.state.height
    run_to_close_out(box)
    assert box.state.height - height <= get_house_bound(box.state)
    assert house_collateral(box.state) == {}
    assert get_collateral_quanta(box.state) == quanta  # every quantum has an owner
    assert get_value(box.state) == value
