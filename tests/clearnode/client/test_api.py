"""`Client` against a live network (tests/clearnode/client/conftest.py): every call a
member, venue, bridge or relayer makes, answered by real `clearnode start` processes
and paid on a real anvil chain."""

from __future__ import annotations

import csv
import io

import pytest
import trio

from bridge.anvil import DEV_PRIVATE_KEY
from clearing.collateral import CollateralCredit, CollateralObservation
from clearing.transition.trade import Trade
from clearnode.client import (
    BadRequest,
    Client,
    Conflict,
    Member,
    NotFound,
    Rejected,
    Unauthorized,
)
from clearnode.client.vault import account_from_key
from tests.clearnode.client.conftest import EVM_CHAIN_ID, USDC, LiveNetwork, fund

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.beside_networks,
    pytest.mark.chain,
]


async def test_connect_reads_the_network_and_its_public_state(live: LiveNetwork) -> None:
    async with await Client.connect(live.url) as client:
        assert client.chain_id == live.chain_id
        height = await client.wait_for_height(1)
        assert (await client.block(height))["height"] == height
        assert set((await client.prices())["mark"]) == {
            i["id"] for i in live.genesis["instruments"]
        }
        validators = await client.validators()
        assert len(validators["validators"]) == 4


async def test_public_events_stream_committed_blocks(live: LiveNetwork) -> None:
    async with await Client.connect(live.url) as client:
        with trio.fail_after(30):
            async for event in client.events():
                if event.kind == "block":
                    assert event.data["height"] >= 1
                    break


async def test_a_deposit_is_credited_and_read_in_the_members_account(live: LiveNetwork) -> None:
    member = Member.from_sandbox("sdk-deposit")
    async with await Client.connect(live.url) as client:
        assert await client.account(member) is None
        assert await client.next_nonce(member) == 0
        account = await fund(live, client, member, 1_000)
    assert account["collateral"] == [
        {"chainId": EVM_CHAIN_ID, "token": "0x" + live.tokens["USDC"].hex(), "quanta": 1_000 * USDC}
    ]
    assert account["marginCall"] is None and account["positions"] == []


async def test_a_venue_clears_trades_of_members_who_authorised_it(live: LiveNetwork) -> None:
    buyer, seller = Member.from_sandbox("sdk-buyer"), Member.from_sandbox("sdk-seller")
    venue = live.venue()
    async with await Client.connect(live.url) as client:
        for member in (buyer, seller):
            await fund(live, client, member, 10_000)
            submitted = await client.authorise_venue(member, venue.venue_id)
            assert (await client.wait_for_tx(submitted["tx_hash"]))["code"] == "ok"
            assert await client.next_nonce(member) == 1
        mark = (await client.prices())["mark"]["BTC-PERP"]
        price = mark // 100 * 100  # on the instrument's tick
        trade = Trade(1, "BTC-PERP", buyer.address, 0, seller.address, 0, price, 2)
        submitted = await client.submit_trades(venue, [trade])
        outcome = await client.wait_for_tx(submitted["tx_hash"])
        assert outcome["code"] == "ok", outcome
        bought = await client.account(buyer)
        sold = await client.account(seller)
        assert bought is not None and sold is not None
        assert [(p["instrument"], p["quantity"]) for p in bought["positions"]] == [("BTC-PERP", 2)]
        assert [(p["instrument"], p["quantity"]) for p in sold["positions"]] == [("BTC-PERP", -2)]
        assert await client.margin_call(buyer) is None
        kinds = [e["kind"] async for e in client.iter_history(buyer)]
        assert "collateral_credited" in kinds and "fill" in kinds
        exported = "".join([rows async for rows in client.iter_history_csv(buyer)])
        assert [row[4] for row in csv.reader(io.StringIO(exported))][1 : len(kinds) + 1] == kinds


async def test_a_withdrawal_on_the_chain_chosen_is_signed_relayed_and_paid(
    live: LiveNetwork,
) -> None:
    member = Member.from_sandbox("sdk-withdraw")
    usdc = live.tokens["USDC"]
    async with await Client.connect(live.url) as client:
        await fund(live, client, member, 1_000)
        submitted = await client.withdraw(member, EVM_CHAIN_ID, usdc, 250 * USDC)
        assert (await client.wait_for_tx(submitted["tx_hash"]))["code"] == "ok"
        with trio.fail_after(60):
            while not (await client.withdrawal(member.address, 0))["complete"]:
                await trio.sleep(0.5)
        with live.vault() as vault:  # JSON-RPC alone, as clearnode-client's install has it
            relayer = account_from_key(DEV_PRIVATE_KEY)
            outcomes = await client.relay(vault.chain, relayer)
            assert [(o.member, o.nonce, o.result) for o in outcomes] == [
                ("0x" + member.address.hex(), "0", "paid")
            ]
            assert await trio.to_thread.run_sync(vault.is_withdrawal_paid, member.address, 0)
        with trio.fail_after(60):  # the validators see the payout and close the record
            while True:
                try:
                    await client.withdrawal(member.address, 0)
                except NotFound as exc:
                    assert exc.type == "NotPending"
                    break
                await trio.sleep(0.5)
        account = await client.account(member)
        assert account is not None and account["collateral"][0]["quanta"] == 750 * USDC


async def test_a_transfer_moves_collateral_between_sub_accounts(live: LiveNetwork) -> None:
    member = Member.from_sandbox("sdk-transfer")
    usdc = live.tokens["USDC"]
    async with await Client.connect(live.url) as client:
        await fund(live, client, member, 1_000)
        submitted = await client.transfer(member, 0, 3, EVM_CHAIN_ID, usdc, 400 * USDC)
        assert (await client.wait_for_tx(submitted["tx_hash"]))["code"] == "ok"
        moved = await client.account(member, 3)
    assert moved is not None and moved["collateral"][0]["quanta"] == 400 * USDC


async def test_refusals_are_typed_and_carry_the_nodes_reason(live: LiveNetwork) -> None:
    member = Member.from_sandbox("sdk-refused")
    async with await Client.connect(live.url) as client:
        await fund(live, client, member, 100)
        first = await client.authorise_venue(member, "alpha", nonce=5)
        await client.wait_for_tx(first["tx_hash"])
        with pytest.raises(Conflict) as replayed:
            await client.authorise_venue(member, "alpha", nonce=5)
        assert replayed.value.type == "NonceReused" and replayed.value.details["nonce"] == 5
        other_network = Client(live.url, live.chain_id + 1, client.http)
        with pytest.raises(BadRequest) as wrong_chain:
            await other_network.account(member)
        assert wrong_chain.value.type == "WrongChainId"
        assert wrong_chain.value.details == {"expected": live.chain_id, "got": live.chain_id + 1}
        with pytest.raises(NotFound) as no_block:
            await client.block(10**12)
        assert no_block.value.type == "UnknownBlock" and no_block.value.status == 404
        # a credit nobody attested: its signatures are what the node checks, not the sender
        observation = CollateralObservation(
            EVM_CHAIN_ID, live.vault_address, b"\x01" * 32, 0, 10**6, member.address, 0,
            live.tokens["USDC"], 1, 0,
        )  # fmt: skip
        with pytest.raises(Rejected) as unattested:
            await client.submit_bridge_event(CollateralCredit(observation, ()))
        assert unattested.value.type == "QuorumNotReached"
        assert unattested.value.details == {"signed_power": 0, "total_power": 40}
        stranger = Member.from_sandbox("sdk-stranger")
        forged = stranger.sign(member.withdrawal(live.chain_id, 7, EVM_CHAIN_ID, b"\0" * 20, 1),
                               live.chain_id)  # fmt: skip
        with pytest.raises(Unauthorized) as unsigned:
            await client.submit(forged)
        assert unsigned.value.type == "BadSignature"


async def test_one_s_own_events_stream_as_blocks_commit(live: LiveNetwork) -> None:
    member = Member.from_sandbox("sdk-stream")
    async with await Client.connect(live.url) as client:
        await fund(live, client, member, 100)
        with trio.fail_after(30):
            async for event in client.stream_history(member):
                assert event.kind == "account_event"
                assert event.data["kind"] == "collateral_credited"
                assert event.id is not None
                break
