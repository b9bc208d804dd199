"""Vault rotation end to end: four validator processes, two anvil chains whose vaults
were deployed before the fourth validator joined (they trust three of the four).

Every validator reads each vault's set at a final block, sees it is not the consensus
set, and the three members sign the rotation to all four; `/v1/bridge` says
`rotating`. A member's withdrawal meanwhile is signed for epoch 0 by the old set.
The relayer rotates both vaults and does not send the epoch-0 withdrawal (the vault
is at epoch 1 now); the validators see the new epoch (`in_sync`, logged, counted in
/metrics, shown on the status page) and sign the withdrawal again for epoch 1. The
old set's signatures are refused on chain (`WrongEpoch`); the new set's are paid,
and the Withdrawn log clears the ledger's record with one root on every node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, ContractReverted, account_from_key, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain, mine
from bridge.eip712 import recover_signer
from bridge.relayer import relay_complete, relay_rotations
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token, get_validator_set, withdraw
from bridge.withdrawal_relay import parse_relay_json
from clearing.collateral import CollateralCredit
from clearing.genesis import parse_genesis
from clearing.transition.withdrawal import WithdrawalPaid
from lightclient.anchor import COMETBFT, OUR_ENGINE
from node.keys import BRIDGE_KEY, KeyFile, save_key
from tests.node.bridge.network import DEPTH, find_committed
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, get_evm_address, get_genesis_doc
from tests.node.bridge.test_bridge_network import ALICE, DEPOSIT, WITHDRAW, sign_withdrawal
from tests.node.netproc import NodeHome, ProcessNetwork, running
from tests.node.test_network_processes import wait_until

pytestmark = [
    pytest.mark.chain,
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.beside_networks,
]

CHAIN_B = 31338
POWER = 10  # each validator's in the example genesis
NEW_SET = sorted(get_evm_address(k) for k in BRIDGE_KEYS)
OLD_SET = sorted(get_evm_address(k) for k in BRIDGE_KEYS[:3])


def get_chain_config(name: str, deployed: DevnetChain) -> str:
    return (
        "[[bridge_chains]]\n"
        f'name = "{name}"\n'
        f"chain_id = {deployed.chain_id}\n"
        f'rpc_url = "{deployed.url}"\n'
        f'vault_address = "0x{deployed.vault.hex()}"\n'
        f"confirmation_depth = {DEPTH}\n"
        "poll_interval_ms = 250\n"  # anvil answers at once: deposits, payouts seen sooner
    )


def get_json(home: NodeHome, path: str) -> Any:
    try:
        response = httpx.get(f"http://127.0.0.1:{home.api_port}{path}", timeout=5)
    except httpx.TransportError:  # still starting
        return {}
    return response.json()


def get_vault_states(home: NodeHome) -> dict[str, tuple[str, int | None]]:
    vaults = get_json(home, "/v1/bridge").get("vaults", {})
    return {name: (v["status"], v["epoch"]) for name, v in vaults.items()}


@pytest.mark.parametrize("engine", [OUR_ENGINE, COMETBFT])
async def test_nodes_rotate_both_vaults_and_withdrawals_follow_the_epoch(
    tmp_path: Path, engine: str
) -> None:
    """On either engine: deposits on anvil credited, a withdrawal paid, both vaults rotated."""
    with AnvilNode(chain_id=CHAIN_ID) as anvil_a, AnvilNode(chain_id=CHAIN_B) as anvil_b:
        chains = {"a": connect(anvil_a.url, CHAIN_ID), "b": connect(anvil_b.url, CHAIN_B)}
        old = EvmValidatorSet.from_members(0, [(a, POWER) for a in OLD_SET])
        deployed = {
            name: deploy_devnet_chain(chain, old, [("USDC", 6)]) for name, chain in chains.items()
        }
        for chain in chains.values():
            mine(chain, DEPTH + 1)  # the vaults exist at the final block
        doc = {**get_genesis_doc(deployed["a"].tokens), "engine": engine}
        genesis = parse_genesis(doc)
        extra = "".join(get_chain_config(name, d) for name, d in sorted(deployed.items()))
        net = ProcessNetwork(tmp_path, 4, extra_config=extra, engine=engine)
        for home, secret in zip(net.homes, BRIDGE_KEYS, strict=True):
            (home.path / "genesis.json").write_text(json.dumps(doc))
            save_key(home.path / "keys" / "bridge_key.json", KeyFile(BRIDGE_KEY, secret))
        with running(net):
            await check_rotation_and_epochs(net, chains, deployed, genesis.chain_id)


async def gather_rotations(
    net: ProcessNetwork, home: NodeHome, old_set: list[bytes], new_set: list[bytes]
) -> list[dict[str, Any]]:
    """Every node sees both vaults off the consensus set at epoch 0 and `home` serves
    both rotations, from `old_set` to `new_set`, signed by a quorum: those rotations."""

    def all_rotating() -> bool:
        want = {"a": ("rotating", 0), "b": ("rotating", 0)}
        return all(get_vault_states(h) == want for h in net.homes)

    await wait_until("every node to see both vaults rotating", all_rotating, 90)

    def rotations_complete() -> bool:
        rotations = get_json(home, "/v1/bridge/rotations").get("rotations", [])
        return len(rotations) == 2 and all(r["complete"] for r in rotations)

    await wait_until("both rotations to gather a quorum", rotations_complete, 60)
    rotations: list[dict[str, Any]] = get_json(home, "/v1/bridge/rotations")["rotations"]
    for body in rotations:
        assert (body["epoch"], body["new_epoch"]) == (0, 1)
        assert body["validators"] == ["0x" + a.hex() for a in new_set]
        assert body["current_validators"] == ["0x" + a.hex() for a in old_set]
    return rotations


async def rotate_vault(
    chain: Chain,
    deployed: DevnetChain,
    relayer: LocalAccount,
    rotations: list[dict[str, Any]],
    new_set: list[bytes],
) -> None:
    """The relayer sends the vault's rotation; the vault is then at epoch 1 with `new_set`."""
    (rotated,) = await trio.to_thread.run_sync(relay_rotations, chain, relayer, rotations)
    assert rotated.result == "rotated", rotated
    on_chain = await trio.to_thread.run_sync(get_validator_set, chain.contract(
        "CollateralVault", to_checksum_address(deployed.vault)))  # fmt: skip
    assert (on_chain.epoch, on_chain.addresses) == (1, new_set)


async def check_rotation_and_epochs(
    net: ProcessNetwork, chains: dict[str, Chain], deployed: dict[str, DevnetChain], network: int
) -> None:
    home = net.homes[3]  # the validator the vaults do not trust yet
    relayer = account_from_key(DEV_PRIVATE_KEY)
    rotations = await gather_rotations(net, home, OLD_SET, NEW_SET)

    # a restarted signer reads the vaults again and signs the very same bytes
    restarted = net.homes[0]
    net.kill(restarted)
    net.start(restarted)

    def signed_twice() -> bool:
        log = (restarted.path / "node.log").read_text()
        return log.count("signed the rotation to epoch 1") == 4  # 2 chains, 2 runs

    await wait_until("the restarted validator to sign again", signed_twice, 60)
    await wait_until("the restarted validator to pool the rotations", lambda: get_json(
        restarted, "/v1/bridge/rotations").get("rotations") == rotations, 60)  # fmt: skip
    assert get_json(home, "/v1/bridge/rotations")["rotations"] == rotations

    # a withdrawal meanwhile: signed for epoch 0 by the three the vault trusts
    chain = chains["a"]
    usdc = deployed["a"].tokens["USDC"]
    vault = chain.contract("CollateralVault", to_checksum_address(deployed["a"].vault))
    token = chain.contract("TestToken", to_checksum_address(usdc))
    await trio.to_thread.run_sync(deposit_token, chain, vault, token, DEPOSIT, ALICE.address,
                                  relayer)  # fmt: skip
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    await wait_until("the deposit to be credited",
                     lambda: find_committed(home, CollateralCredit) is not None, 60)  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"http://127.0.0.1:{net.homes[1].api_port}/v1/member-requests"
        response = await client.post(url, json=sign_withdrawal(network, usdc, 1))
        assert response.status_code == 202, response.text
    path = f"/v1/withdrawals/0x{ALICE.address.hex()}/1"
    await wait_until("the old set's withdrawal signatures",
                     lambda: get_json(home, path).get("complete") is True, 60)  # fmt: skip
    old_body = get_json(home, path)
    old_auth, old_signatures = parse_relay_json(old_body)
    assert old_auth.epoch == 0
    assert sorted(recover_signer(old_auth.get_digest(), s) for s in old_signatures) == OLD_SET

    # the relayer rotates both vaults; the epoch-0 withdrawal it does not send
    for name in ("a", "b"):
        await rotate_vault(chains[name], deployed[name], relayer, rotations, NEW_SET)
        (again,) = await trio.to_thread.run_sync(relay_rotations, chains[name], relayer,
                                                 rotations)  # fmt: skip
        assert again.result == "already rotated: vault at epoch 1"
    (skipped,) = await trio.to_thread.run_sync(relay_complete, chain, relayer, [old_body])
    assert skipped.result == "signed for epoch 0, vault at epoch 1", skipped
    for name in ("a", "b"):
        await trio.to_thread.run_sync(mine, chains[name], DEPTH + 1)

    def all_in_sync() -> bool:
        want = {"a": ("in_sync", 1), "b": ("in_sync", 1)}
        return all(get_vault_states(h) == want for h in net.homes)

    await wait_until("every validator to see both vaults in sync", all_in_sync, 60)

    # the old set's signatures are refused on chain
    with pytest.raises(ContractReverted) as caught:
        await trio.to_thread.run_sync(withdraw, chain, old_auth, old_signatures, relayer)
    assert caught.value.error == "WrongEpoch"

    # the new set signs again for epoch 1, and that is paid
    def new_signatures() -> bool:
        body = get_json(home, path)
        return body.get("epoch") == 1 and body.get("complete") is True

    await wait_until("the new set's withdrawal signatures", new_signatures, 60)
    new_body = get_json(home, path)
    auth, signatures = parse_relay_json(new_body)
    signers = [recover_signer(auth.get_digest(), s) for s in signatures]
    assert set(signers) <= set(NEW_SET) and len(signers) >= 3
    (paid,) = await trio.to_thread.run_sync(relay_complete, chain, relayer, [new_body])
    assert paid.result == "paid", paid
    assert token.functions.balanceOf(to_checksum_address(ALICE.address)).call() == WITHDRAW
    await trio.to_thread.run_sync(mine, chain, DEPTH + 1)
    await wait_until("the payout to clear the record everywhere", lambda: all(
        find_committed(h, WithdrawalPaid) is not None for h in net.homes), 60)  # fmt: skip
    height, _ = find_committed(home, WithdrawalPaid)  # type: ignore[misc]
    await wait_until("every node at the payout's height",
                     lambda: all(height in h.get_roots() for h in net.homes), 30)  # fmt: skip
    assert len({h.get_roots()[height] for h in net.homes}) == 1

    # one rotation per vault, logged, counted and on the status page of every validator
    for each in net.homes:
        metrics = httpx.get(
            f"http://127.0.0.1:{each.operator_port}/metrics",
            headers=each.operator_headers,
            timeout=5,
        ).text
        for name in ("a", "b"):
            rotated = (
                f'clearnode_bridge_vault_rotations_total{{chain="{name}",event="rotated"}} 1.0'
            )
            assert rotated in metrics, [m for m in metrics.splitlines() if "rotations" in m]
        log = (each.path / "node.log").read_text()
        assert log.count("rotated to epoch 1") == 2, each.name

        def page_in_sync(home: NodeHome = each) -> bool:  # the page reads vaults every 5 s
            page = httpx.get(f"http://127.0.0.1:{home.api_port}/status", timeout=5).text
            return page.count("<td>in sync</td>") == 2

        await wait_until(f"{each.name}'s status page to show both vaults in sync",
                         page_in_sync, 30)  # fmt: skip
    signed = {
        each.name: "signed the rotation to epoch 1" in (each.path / "node.log").read_text()
        for each in net.homes
    }
    assert signed == {"v0": True, "v1": True, "v2": True, "v3": False}
