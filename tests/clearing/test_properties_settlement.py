"""Settlement invariants over random blocks on two chains: deposits, trades, price moves
(crashes included), withdrawals of collateral and of cash.

After every block: the cash supply (every cash balance less what the vaults hold
for cash) is what genesis started with; per chain and token the ledger accounts
for exactly what was deposited; no vault is asked for more than the ledger owes
there; no account but the house has negative equity; the book is flat.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.collateral import get_vault_quanta
from clearing.default.house import HOUSE
from clearing.sandbox import Sandbox, derive_member_key
from clearing.state import ClearingState, get_collateral_value
from tests.clearing.support import USDC, USDC_B, WETH, genesis_doc, get_cash_supply
from tests.clearing.test_trade import PERP, VENUE, make_batch, make_trade

MEMBERS = [derive_member_key(f"settler-{n}") for n in range(4)]
TOKENS = [USDC, USDC_B, WETH]
BTC_FEED = "BTC/0.001"

deposit = st.tuples(st.just("deposit"), st.integers(0, 3), st.integers(0, 2),
                    st.integers(1, 20_000_000))  # fmt: skip
trade = st.tuples(st.just("trade"), st.integers(0, 3), st.integers(0, 3), st.integers(1, 6))
move = st.tuples(st.just("move"), st.integers(-4_000, 4_000))  # bps of the BTC mark
withdraw = st.tuples(st.just("withdraw"), st.integers(0, 3), st.integers(0, 2),
                     st.integers(1, 20_000_000))  # fmt: skip
block = st.lists(st.one_of(deposit, trade, move, withdraw), max_size=5)


FUNDING = [(USDC, 200_000_000), (USDC_B, 200_000_000), (WETH, 80_000), (USDC_B, 50_000_000)]


def count_credits(events: list, credited: dict[tuple[int, bytes], int]) -> None:  # type: ignore[type-arg]
    for event in events:
        if event.kind == "collateral_credited":
            key = (event.get("chain_id"), event.get("token"))
            credited[key] = credited.get(key, 0) + event.get("quanta")  # type: ignore[index, operator, call-overload]


def start(credited: dict[tuple[int, bytes], int]) -> Sandbox:
    """Four members with about 200, 200, 216 and 50 USD, on different chains."""
    doc = genesis_doc()
    doc["settlement_asset"]["conversion_threshold"] = 0  # WETH is sold as soon as cash < 0
    doc["oracle"]["max_move_bps"] = 5_000  # crashes commit in one block
    doc["risk"]["backstops"] = [{"member": "0x" + MEMBERS[3].address.hex(), "sub_account": 0}]
    box = Sandbox.from_genesis_doc(doc)
    box.apply([box.authorise(m, VENUE) for m in MEMBERS])
    funded = box.apply([box.credit(m.address, *f) for m, f in zip(MEMBERS, FUNDING, strict=True)])
    count_credits(funded.get_events(), credited)
    return box


def build(box: Sandbox, op: tuple, trade_id: list[int]) -> object:  # type: ignore[type-arg]
    kind = op[0]
    if kind == "deposit":
        return box.credit(MEMBERS[op[1]].address, TOKENS[op[2]], op[3])
    if kind == "trade":
        trade_id[0] += 1
        buyer, seller = MEMBERS[op[1]], MEMBERS[op[2]]
        mark = box.state.mark_prices[PERP]
        return make_batch(box, [make_trade(trade_id[0], buyer, seller, mark // 100 * 100, op[3])],
                          trade_id[0])  # fmt: skip
    if kind == "move":
        price = max(box.state.mark_prices[PERP] * (10_000 + op[1]) // 10_000, 1_000_000)
        return box.prices({BTC_FEED: price}, {PERP: price})
    return box.withdraw(MEMBERS[op[1]], TOKENS[op[2]], op[3])


def test_the_random_blocks_reach_every_settlement_path() -> None:
    """Guard against a vacuous property: one fixed sequence defaults, sells and pays out."""
    box = start({})
    ops = [("trade", 0, 1, 6), ("trade", 2, 1, 1), ("move", -4_000), ("move", -4_000),
           ("withdraw", 1, 1, 1)]  # fmt: skip
    kinds = set()
    trade_id = [0]
    for op in ops:
        result = box.apply([build(box, op, trade_id)])  # type: ignore[list-item]
        kinds |= {e.kind for e in result.get_events()}
    assert {"negative_cash_settled", "collateral_seized", "withdrawal"} <= kinds, kinds


def check_invariants(state: ClearingState, credited: dict[tuple[int, bytes], int]) -> None:
    assert get_cash_supply(state) == 0
    held = get_vault_quanta(state)
    for key in TOKENS:
        assert held.get(key, 0) == credited.get(key, 0), key  # nothing paid out here
    assert all(r >= 0 for r in state.settlement_reserves.values())
    for address, member in state.members.items():
        for sub, account in member.sub_accounts.items():
            if (address, sub) != HOUSE:
                assert account.cash + get_collateral_value(state, account) >= 0, (address, sub)
    lots = sum(
        a.positions[PERP].quantity
        for m in state.members.values()
        for a in m.sub_accounts.values()
        if PERP in a.positions
    )
    assert lots == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(block, min_size=1, max_size=8))
def test_settlement_conserves_value_and_leaves_nobody_insolvent(blocks: list) -> None:  # type: ignore[type-arg]
    credited: dict[tuple[int, bytes], int] = {}
    box = start(credited)
    trade_id = [0]
    for ops in blocks:
        result = box.apply([build(box, op, trade_id) for op in ops])  # type: ignore[misc]
        count_credits(result.get_events(), credited)
        check_invariants(box.state, credited)
