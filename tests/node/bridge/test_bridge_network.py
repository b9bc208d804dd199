"""End to end on a real anvil chain and 4 in-process validator nodes.

Three validators watch the chain, the fourth only pools gossip and serves. A
deposit in the vault becomes a committed CollateralCredit with the same state
root on every node; a member's signed withdrawal collects a quorum of the
validators' EVM signatures, served by the API (also by the node that watches
nothing); `clearnode relay` pays it on chain, and the vault's Withdrawn log
becomes a committed WithdrawalPaid. A forged
observation gossiped by an outside peer is refused at the first hop and scores
that peer down.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
import trio
from eth_utils.address import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.devchain import DevnetChain, mine
from bridge.eip712 import recover_signer
from bridge.observation import sign_observation
from bridge.vault import deposit_token
from bridge.withdrawal_relay import parse_relay_json
from clearing.collateral import CollateralCredit, CollateralObservation
from clearing.eip712 import compute_signable, sign_typed
from clearing.genesis import parse_genesis
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS
from clearing.transition.withdrawal import Withdrawal, WithdrawalPaid
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key, derive_seed
from node import commands as cli
from node.bridge.gossip import BridgeCheck, encode_message
from node.keys import BRIDGE_KEY, KeyFile, save_key
from node.p2p import HostConfig, open_p2p
from node.p2p.topics import BRIDGE
from tests.node.bridge.network import (
    DEPTH,
    find_committed,
    get_bridge_config,
    wait_committed_everywhere,
)
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, get_genesis_doc, make_check
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS, NodeHome
from tests.node.netsupport import get_wall_times
from tests.node.nodenet import NodeNetwork, open_node_network

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.usefixtures("quick_chain_polls")]

DEPOSIT = 5_000_000  # USDC units; quantum 1
WITHDRAW = 2_000_000
ALICE = derive_member_key("bridge-alice")


async def get_account(home: NodeHome, chain_id: int) -> Any:
    """Alice's own sub-account 0, by her signed query."""
    message = {"member": "0x" + ALICE.address.hex(), "subAccount": 0, "issuedAtMs": now_ms()}
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    body = {
        "chainId": chain_id,
        "message": message,
        "signature": "0x" + sign_typed(ALICE.private_key, signable).hex(),
    }
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"http://127.0.0.1:{home.api_port}/v1/accounts/query", json=body
        )
    return response.json()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign_withdrawal(chain_id: int, token: bytes, nonce: int) -> dict[str, Any]:
    issued, expiry = get_wall_times()
    unsigned = Withdrawal(
        ALICE.address, 0, CHAIN_ID, token, WITHDRAW, ALICE.address, issued, expiry, nonce, b""
    )
    signature = sign_typed(ALICE.private_key, unsigned.signable(chain_id))
    message = {
        "member": "0x" + ALICE.address.hex(),
        "subAccount": 0,
        "assetChainId": CHAIN_ID,
        "token": "0x" + token.hex(),
        "quanta": WITHDRAW,
        "recipient": "0x" + ALICE.address.hex(),
        "issuedAtMs": issued,
        "expiresMs": expiry,
        "nonce": nonce,
    }
    return {
        "type": "Withdrawal",
        "chainId": chain_id,
        "message": message,
        "signature": "0x" + signature.hex(),
    }


async def test_deposit_withdrawal_and_payout_through_the_nodes(
    tmp_path: Any, chain: tuple[Chain, DevnetChain]
) -> None:
    evm, deployed = chain
    doc = get_genesis_doc(deployed.tokens)
    genesis = parse_genesis(doc)
    usdc = deployed.tokens["USDC"]
    relayer = account_from_key(DEV_PRIVATE_KEY)
    vault = evm.contract("CollateralVault", to_checksum_address(deployed.vault))
    token = evm.contract("TestToken", to_checksum_address(usdc))

    # v3 watches no chain: it only pools gossip and serves (3 of 4 are a quorum)
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

        # a deposit on chain becomes one committed credit, same root everywhere
        await trio.to_thread.run_sync(
            deposit_token, evm, vault, token, DEPOSIT, ALICE.address, relayer
        )
        await trio.to_thread.run_sync(mine, evm, DEPTH + 1)
        _, credit = await wait_committed_everywhere(net, CollateralCredit)
        assert (credit.observation.member, credit.observation.quanta) == (ALICE.address, DEPOSIT)
        account = await get_account(net.homes[3], genesis.chain_id)
        assert account["collateral"] == [
            {"chainId": CHAIN_ID, "token": "0x" + usdc.hex(), "quanta": DEPOSIT}
        ]

        # the member's withdrawal gathers a quorum of EVM signatures, served by the API
        async with httpx.AsyncClient(timeout=10) as client:
            url = f"http://127.0.0.1:{net.homes[1].api_port}/v1/member-requests"
            response = await client.post(url, json=sign_withdrawal(genesis.chain_id, usdc, 1))
            assert response.status_code == 202, response.text
        path = f"/v1/withdrawals/0x{ALICE.address.hex()}/1"
        with trio.move_on_after(60):
            while not (body := await net.get_json(net.homes[3], path)).get("complete"):
                await trio.sleep(0.2)
        if not body.get("complete"):
            statuses = [await net.get_json(home, "/v1/bridge") for home in net.homes]
            raise AssertionError(f"withdrawal {body}; bridge status {statuses}")
        pending = await net.get_json(net.homes[0], "/v1/withdrawals/pending")
        assert [w["nonce"] for w in pending["withdrawals"]] == ["1"]
        auth, signatures = parse_relay_json(body)
        assert (auth.vault, auth.amount, auth.epoch) == (deployed.vault, WITHDRAW, 0)
        signers = [recover_signer(auth.get_digest(), s) for s in signatures]
        assert signers == sorted(signers) and len(signers) >= 3

        # `clearnode relay` pays on chain; the Withdrawn log clears the record everywhere
        key_file = tmp_path / "relayer_key.json"
        save_key(key_file, KeyFile(BRIDGE_KEY, bytes.fromhex(DEV_PRIVATE_KEY[2:])))
        argv = ["relay", "--api", f"http://127.0.0.1:{net.homes[3].api_port}",
                "--rpc-url", deployed.url, "--chain-id", str(CHAIN_ID),
                "--key-file", str(key_file), "--once"]  # fmt: skip
        assert await trio.to_thread.run_sync(cli.main, argv) == 0
        assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == WITHDRAW
        await trio.to_thread.run_sync(mine, evm, DEPTH + 1)
        _, paid = await wait_committed_everywhere(net, WithdrawalPaid)
        assert (paid.observation.member, paid.observation.nonce) == (ALICE.address, 1)
        for home in net.homes:
            assert (await net.get_json(home, path))["error"]["type"] == "NotPending"
        account = await get_account(net.homes[0], genesis.chain_id)
        assert account["collateral"][0]["quanta"] == DEPOSIT - WITHDRAW

        # a forged observation from an outside peer is refused at the first hop
        await check_forged_observation_refused(net, make_check(genesis), usdc)


async def check_forged_observation_refused(
    net: NodeNetwork, genesis_check: BridgeCheck, token: bytes
) -> None:
    """An outside peer's attestation of an invented deposit: signed by its own key, it is
    ignored (dropped unpenalised: the key might be a validator's a block ahead); signed
    as a validator's key, it is a forgery, refused and held against the peer."""
    target = net.homes[0]
    node = net.peers[target.name]
    forged = CollateralObservation(
        chain_id=CHAIN_ID,
        vault=bytes(20),
        tx_hash=bytes([0xEE]) * 32,
        log_index=0,
        deposit_nonce=1,
        member=ALICE.address,
        sub_account=0,
        token=token,
        quanta=10**9,
        block_time_s=0,
    )
    own = sign_observation(derive_ed25519_key("mallory"), genesis_check.chain_id, forged)
    validator = genesis_check.state().genesis.validators[0].pubkey
    as_validator = replace(own, attestation=replace(own.attestation, signer=validator))
    config = HostConfig(derive_seed("node-mallory"), genesis_hash=target.genesis_hash)
    async with open_p2p(config, [genesis_check.topic()]) as mallory:
        await mallory.connect(node.listen_addrs()[0])
        with trio.fail_after(20):
            await mallory.wait_for_mesh(BRIDGE, 1)
            for message, counter in ((own, "ignored"), (as_validator, "rejected")):
                while node.counters[BRIDGE, counter] == 0:
                    await mallory.publish(BRIDGE, encode_message(genesis_check.chain_id, message))
                    await trio.sleep(0.2)
                if counter == "ignored":
                    assert node.scores.get_score(mallory.peer_id) >= 0
        assert node.scores.get_score(mallory.peer_id) < 0

    def is_forged(tx: Any) -> bool:
        return bool(tx.observation.key == forged.key)

    assert all(find_committed(h, CollateralCredit, is_forged) is None for h in net.homes)
