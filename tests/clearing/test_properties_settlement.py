"""Settlement invariants over random blocks on two chains: deposits, trades, price moves
(crashes of BTC and of the WETH collateral included, so negative cash is paid from
settlement tokens and WETH is sold), withdrawals of collateral and of cash, and their
outcomes on the vault: paid (the tokens leave it) or expired and refunded.

The test models each vault's balance per token: deposits in, payouts out. After every
block: the cash supply (every cash balance, the default fund, the fee pool and the
insurance fund, less what the vaults hold for cash) is what genesis started with; per
chain and token the ledger's quanta (members', the house's and pending withdrawals')
plus, for the settlement token, the chain's reserve are exactly the vault's balance, so
what the ledger owes on a chain never exceeds what its vault holds; no account but the
house has negative equity; the book is flat.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.collateral import (
    count_vault_quanta,
    get_collateral_quanta,
    get_credited_quanta,
    get_pending_withdrawal_quanta,
)
from clearing.default.house import HOUSE
from clearing.events import Event
from clearing.state import ClearingState, get_collateral_value
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.support import USDC, USDC_B, WETH, genesis_doc, get_cash_supply
from tests.clearing.test_trade import PERP, VENUE, make_batch, make_trade

MEMBERS = [derive_member_key(f"settler-{n}") for n in range(4)]
TOKENS = [USDC, USDC_B, WETH]
BTC_FEED, ETH_FEED = "BTC/0.001", "ETH/quantum"
Vaults = dict[tuple[int, bytes], int]  # (chain, token) -> quanta the vault holds

deposit = st.tuples(st.just("deposit"), st.integers(0, 3), st.integers(0, 2),
                    st.integers(1, 20_000_000))  # fmt: skip
trade = st.tuples(st.just("trade"), st.integers(0, 3), st.integers(0, 3), st.integers(1, 6))
# bps of BTC's mark and of ETH's price (WETH is collateral)
move = st.tuples(st.just("move"), st.integers(-4_000, 4_000),
                 st.integers(-4_000, 2_000))  # fmt: skip
withdraw = st.tuples(st.just("withdraw"), st.integers(0, 3), st.integers(0, 2),
                     st.integers(1, 20_000_000))  # fmt: skip
# the vault pays (or, past its expiry, never paid) the n-th pending withdrawal
paid = st.tuples(st.just("paid"), st.integers(0, 7))
expired = st.tuples(st.just("expired"), st.integers(0, 7))
block = st.lists(st.one_of(deposit, trade, move, withdraw, paid, expired), max_size=5)


FUNDING = [(USDC, 200_000_000), (USDC_B, 200_000_000), (WETH, 80_000), (USDC_B, 50_000_000)]


def count_vault_flows(events: list[Event], vaults: Vaults) -> None:
    """Deposits enter their vault; a paid withdrawal leaves it (a refund stays in it)."""
    for event in events:
        sign = {"collateral_credited": 1, "withdrawal_paid": -1}.get(event.kind)
        if sign is not None:
            token = event.get("token")
            assert isinstance(token, bytes)
            key = (int(event.get("chain_id")), token)
            vaults[key] = vaults.get(key, 0) + sign * int(event.get("quanta"))


def start(vaults: Vaults) -> Sandbox:
    """Four members with about 200, 200, 216 and 50 USD, on different chains."""
    doc = genesis_doc()
    doc["settlement_asset"]["conversion_threshold"] = 0  # WETH is sold as soon as cash < 0
    doc["oracle"]["max_move_bps"] = 5_000  # crashes commit in one block
    doc["risk"]["backstops"] = [{"member": "0x" + MEMBERS[3].address.hex(), "sub_account": 0}]
    box = Sandbox.from_genesis_doc(doc)
    box.apply([box.authorise(m, VENUE) for m in MEMBERS])
    funded = box.apply([box.credit(m.address, *f) for m, f in zip(MEMBERS, FUNDING, strict=True)])
    count_vault_flows(funded.get_events(), vaults)
    return box


def build(box: Sandbox, op: tuple, trade_id: list[int]) -> object | None:  # type: ignore[type-arg]
    """The transaction ``op`` stands for (None: a vault event with nothing pending)."""
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
        eth = max(box.state.index_prices[ETH_FEED] * (10_000 + op[2]) // 10_000, 100)
        return box.prices({BTC_FEED: price, ETH_FEED: eth}, {PERP: price})
    if kind in ("paid", "expired"):
        pending = sorted(box.state.pending_withdrawals)
        if not pending:
            return None
        record = box.state.pending_withdrawals[pending[op[1] % len(pending)]]
        if kind == "paid":
            return box.paid(record.member, record.nonce, record.chain_id)
        return box.expired(record.member, record.nonce, record.chain_id, record.expiry + 1)
    return box.withdraw(MEMBERS[op[1]], TOKENS[op[2]], op[3])


def build_block(box: Sandbox, ops: list, trade_id: list[int]) -> list:  # type: ignore[type-arg]
    return [tx for tx in (build(box, op, trade_id) for op in ops) if tx is not None]


def test_the_random_blocks_reach_every_settlement_path() -> None:
    """Guard against a vacuous property: one fixed sequence defaults, converts WETH, pays
    profit out on the chain the winner never deposited on, and refunds an expired
    withdrawal."""
    vaults: Vaults = {}
    box = start(vaults)
    ops = [("trade", 0, 1, 6), ("trade", 2, 1, 1), ("move", -4_000, -4_000),
           ("move", -4_000, 0), ("withdraw", 1, 0, 100_000_000), ("paid", 0),
           ("withdraw", 3, 1, 1_000), ("expired", 0)]  # fmt: skip
    events = []
    trade_id = [0]
    for op in ops:
        result = box.apply(build_block(box, [op], trade_id))
        events += result.get_events()
        count_vault_flows(result.get_events(), vaults)
        check_invariants(box.state, vaults)
    kinds = {e.kind for e in events}
    assert {"negative_cash_settled", "collateral_sold", "collateral_seized", "withdrawal",
            "withdrawal_paid", "withdrawal_refunded"} <= kinds, kinds  # fmt: skip
    (cash_out,) = [e for e in events if e.kind == "withdrawal_paid"]
    assert (cash_out.get("member"), cash_out.get("chain_id")) == (MEMBERS[1].address, USDC[0])
    assert vaults[USDC] == FUNDING[0][1] - 100_000_000  # a loser's tokens paid its profit


def check_invariants(state: ClearingState, vaults: Vaults) -> None:
    assert get_cash_supply(state) == 0
    held = count_vault_quanta(state)  # what the ledger says each vault holds
    assert state.vault_quanta == held  # and what it keeps of that, with no zero entries
    owed = get_collateral_quanta(state)  # members' and the house's
    assert get_credited_quanta(state) == owed  # the same, from what the state keeps
    for key, quanta in get_pending_withdrawal_quanta(state).items():
        owed[key] = owed.get(key, 0) + quanta
    for key in TOKENS:
        assert held.get(key, 0) == vaults.get(key, 0), key
        assert owed.get(key, 0) <= vaults.get(key, 0), key
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
    vaults: Vaults = {}
    box = start(vaults)
    trade_id = [0]
    for ops in blocks:
        result = box.apply(build_block(box, ops, trade_id))
        count_vault_flows(result.get_events(), vaults)
        check_invariants(box.state, vaults)
