"""An unrelayed withdrawal is refunded, end to end on a real anvil chain and 4
in-process validator nodes (v3 watches no chain).

A member's withdrawal gathers a quorum of vault signatures, but nobody relays it.
Anvil's clock moves past its expiry (genesis `withdrawal_ttl_s` after the debiting
block); the watching validators attest from the vault that its nonce was never
used, and a committed WithdrawalExpired gives the quanta back, same root on every
node. Relaying the collected signatures afterwards reverts on chain (`Expired`):
the refund can never be paid a second time.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, ContractReverted, account_from_key
from bridge.devchain import DevnetChain, mine
from bridge.vault import deposit_token, is_withdrawal_used, withdraw
from bridge.withdrawal_relay import parse_relay_json
from clearing.collateral import CollateralCredit
from clearing.genesis import parse_genesis
from clearing.withdrawal_expiry import WithdrawalExpired
from node.keys import BRIDGE_KEY, KeyFile, save_key
from tests.node.bridge.network import DEPTH, get_bridge_config, wait_committed_everywhere
from tests.node.bridge.support import BRIDGE_KEYS, get_genesis_doc
from tests.node.bridge.test_bridge_network import (
    ALICE,
    DEPOSIT,
    WITHDRAW,
    get_account,
    sign_withdrawal,
)
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS, NodeHome
from tests.node.nodenet import open_node_network

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.usefixtures("quick_chain_polls")]

TTL_S = 60


async def test_an_unrelayed_withdrawal_is_refunded_and_cannot_be_paid_after(
    tmp_path: Any, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    doc = get_genesis_doc(deployed.tokens)
    doc["withdrawal_ttl_s"] = TTL_S
    genesis = parse_genesis(doc)
    usdc = deployed.tokens["USDC"]
    relayer = account_from_key(DEV_PRIVATE_KEY)
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(usdc))

    def get_config(home: NodeHome) -> str:
        chain = get_bridge_config(deployed) if home.name != "v3" else ORACLE_OFF
        return chain + SHORT_TIMEOUTS

    async with open_node_network(
        tmp_path, extra_config=get_config, genesis=doc, start=False
    ) as net:
        for home, secret in zip(net.homes, BRIDGE_KEYS, strict=True):
            save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
            await net.start(home)
        await net.wait_for_height(1)
        await trio.to_thread.run_sync(
            deposit_token, evm, vault, token, DEPOSIT, ALICE.address, relayer
        )
        await trio.to_thread.run_sync(mine, evm, DEPTH + 1)
        await wait_committed_everywhere(net, CollateralCredit)

        async with httpx.AsyncClient(timeout=10) as client:
            url = f"http://127.0.0.1:{net.homes[1].api_port}/v1/member-requests"
            response = await client.post(url, json=sign_withdrawal(genesis.chain_id, usdc, 1))
            assert response.status_code == 202, response.text
        path = f"/v1/withdrawals/0x{ALICE.address.hex()}/1"
        with trio.move_on_after(60):
            while not (body := await net.get_json(net.homes[3], path)).get("complete"):
                await trio.sleep(0.2)
        assert body.get("complete"), body
        auth, signatures = parse_relay_json(body)
        account = await get_account(net.homes[0], genesis.chain_id)
        assert account["collateral"][0]["quanta"] == DEPOSIT - WITHDRAW

        # nobody relays; the chain's clock passes the signed expiry
        await trio.to_thread.run_sync(evm.request, "evm_increaseTime", [TTL_S + 5])
        await trio.to_thread.run_sync(mine, evm, DEPTH + 1)
        _, expired = await wait_committed_everywhere(net, WithdrawalExpired)
        assert (expired.observation.member, expired.observation.nonce) == (ALICE.address, 1)
        assert expired.observation.block_time_s > auth.expiry
        for home in net.homes:
            assert (await net.get_json(home, path))["error"]["type"] == "NotPending"
        account = await get_account(net.homes[3], genesis.chain_id)
        assert account["collateral"][0]["quanta"] == DEPOSIT

        # the quorum's signatures are worthless now: the vault refuses them
        with pytest.raises(ContractReverted) as caught:
            await trio.to_thread.run_sync(withdraw, evm, auth, signatures, relayer)
        assert caught.value.error == "Expired"
        assert not is_withdrawal_used(evm, deployed.vault, ALICE.address, 1)
        assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == 0
