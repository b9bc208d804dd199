"""A clearing member with an omnibus and a segregated client defaults in a crash on a
four-validator network (in one process, real libp2p on loopback): every node ports the
segregated client to its backup member with its positions and collateral, and it keeps
trading there (the ledger's side: tests/clearing/default/test_clients.py)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from clearing.default.house import HOUSE
from clearing.genesis import parse_genesis
from clearing.state import get_account_equity
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearing.tx_kind import TxRecord
from devnet.sandbox import Sandbox
from node.clock import wall_clock_ms
from tests.clearing.default.test_clients import (
    BTC,
    ETH,
    FILLS,
    OMNI,
    USD,
    C,
    D,
    M,
    N,
    S,
    X,
    client_doc,
)
from tests.clearing.support import USDC
from tests.clearing.test_trade import VENUE, VENUE_KEY
from tests.node.test_network_inprocess import Member, assert_same_roots, network

pytestmark = pytest.mark.slow  # four validators in one process


async def commit(members: list[Member], txs: list[TxRecord | bytes]) -> None:
    """Submit ``txs`` to one node and wait until every node has committed them all."""
    raws = [tx if isinstance(tx, bytes) else encode_tx(tx) for tx in txs]
    async with trio.open_nursery() as nursery:
        for tx in raws:
            members[0].submit(tx, nursery)
    with trio.fail_after(30):
        for member in members:
            while not set(raws) <= {t for b in member.store.blocks for t in b[0].txs}:
                await member.driver.progress.wait()


def batch(box: Sandbox, batch_id: int, fills: list[Any]) -> bytes:
    marks = box.state.mark_prices
    trades = tuple(
        Trade(batch_id * 100 + n, iid, buyer.address, 0, seller.address, 0, marks[iid], lots)
        for n, (buyer, seller, iid, lots) in enumerate(fills, 1)
    )
    return encode_tx(
        sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, batch_id, trades, *box.get_times())
    )


async def test_a_defaulting_member_s_segregated_client_is_ported_and_trades_on() -> None:
    doc = client_doc()
    doc["epoch_length_blocks"] = 2  # the default fund is sized before the crash
    box = Sandbox.from_genesis_doc(doc)  # signs as the validators and members do
    box.clock_ms = wall_clock_ms
    funds = {M: 600 * USD, N: 10**11, C: 10**11, D: 10**11, OMNI: 400 * USD, S: 500 * USD}
    setup: list[TxRecord | bytes] = [box.credit(k.address, USDC, q) for k, q in funds.items()]
    setup.append(box.credit(HOUSE[0], USDC, 50 * USD))
    setup += [box.authorise(k, VENUE) for k in (M, N, C, D, OMNI, S, X)]
    async with network(genesis=parse_genesis(doc)) as members:
        await commit(members, setup)
        await commit(members, [batch(box, 1, FILLS)])
        state = members[0].app.state
        start = state.height
        with trio.fail_after(30):
            while state.height < start + 2 * doc["epoch_length_blocks"]:
                await members[0].driver.progress.wait()
        account = state.members[S.address].sub_accounts[0]
        s_equity = get_account_equity(state, account)
        marks = dict(state.mark_prices)
        crashed = {i: marks[i] * 7 // 10 for i in (BTC, ETH)}
        index = {"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]}
        await commit(members, [box.prices(index, crashed, observed_ms=wall_clock_ms())])

        for member in members:
            state = member.app.state
            assert M.address not in state.clearing_members
            assert state.clients[S.address].clearing_member == N.address
            account = state.members[S.address].sub_accounts[0]
            assert account.positions[ETH].quantity == 10
            own_loss = 10 * (marks[ETH] - crashed[ETH])
            assert get_account_equity(state, account) == s_equity - own_loss
        box.state.mark_prices.update(crashed)  # the trade's price is at the new mark
        await commit(members, [batch(box, 2, [(S, N, ETH, 1)])])
        tip = min(m.store.get_height() for m in members)
        assert_same_roots(members, tip)
        for member in members:
            assert member.app.state.members[S.address].sub_accounts[0].positions[ETH].quantity == 11
