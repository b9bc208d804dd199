"""docs/operator.md's walk-through, as an operator runs it: two anvil chains,
`clearnode keys generate` for four validators, on each chain a vault trusting their
bridge addresses (deploy.py of the guide), `clearnode init --validators 4
--bridge-chain ...`, four `clearnode start --home`, a member's deposit credited in its
signed account query, `clearnode status` of every node and one root per height; the
genesis validators are the keys made first and the vaults trust exactly them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.devchain import deploy_devnet_chain
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token
from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS
from node.commands import main
from node.commands.init import VALIDATOR_POWER
from node.commands.keys import get_public_keys
from node.config import load_config
from tests.node.netproc import cli_network, read_roots
from tests.node.test_network_processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.chain]
AMOUNT = 1_000 * 10**6  # 1,000 USDC


def deploy_trusting(name: str, url: str, chain_id: int, homes: list[Path]) -> str:
    """deploy.py of the guide: a vault trusting the homes' bridge addresses and test
    tokens on the anvil at `url`; returns the `--bridge-chain` value for init."""
    addresses = [get_public_keys(home)["bridge_address"] for home in homes]
    members = [(bytes.fromhex(a[2:]), VALIDATOR_POWER) for a in addresses]
    chain = connect(url, chain_id)
    deployed = deploy_devnet_chain(
        chain, EvmValidatorSet.from_members(0, members), [("USDC", 6), ("WETH", 18)]
    )
    tokens = ",".join(f"{symbol}=0x{token.hex()}" for symbol, token in deployed.tokens.items())
    vault = f"vault=0x{deployed.vault.hex()}"
    depth = "confirmation_depth=0,poll_interval_ms=250"
    return f"name={name},chain_id={chain_id},rpc_url={url},{vault},{tokens},{depth}"


def signed_account_query(member: LocalAccount, chain_id: int) -> dict[str, object]:
    message = {
        "member": member.address.lower(),
        "subAccount": 0,
        "issuedAtMs": time.time_ns() // 10**6,
    }
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = sign_typed(member.key, signable)
    return {"chainId": chain_id, "message": message, "signature": "0x" + signature.hex()}


async def test_operator_walkthrough_from_keys_to_a_credited_deposit(tmp_path: Path) -> None:
    base = tmp_path / "net"
    homes = [base / f"node{i}" for i in range(4)]
    for home in homes:
        assert main(["keys", "generate", "--home", str(home)]) == 0
    made = [get_public_keys(home) for home in homes]
    with AnvilNode(chain_id=31337) as a, AnvilNode(chain_id=31338) as b:
        chains = ("--bridge-chain", deploy_trusting("a", a.url, 31337, homes))
        chains += ("--bridge-chain", deploy_trusting("b", b.url, 31338, homes))
        with cli_network(base, 4, chains) as net:
            assert "Collateral chains" in net.init_output
            assert net.init_output.count("keys     kept") == 4
            assert [get_public_keys(home) for home in net.homes] == made
            home = net.homes[0]
            config = load_config(home)
            assert [c.name for c in config.bridge_chains] == ["a", "b"]
            genesis = json.loads((home / "genesis.json").read_text())
            usdc = next(
                c for c in genesis["collateral"] if (c["chain_id"], c["symbol"]) == (31337, "USDC")
            )
            chain = connect(a.url, 31337)
            vault = chain.contract("CollateralVault", config.bridge_chains[0].vault_address)
            token = chain.contract("TestToken", usdc["token"])
            member = Account.create()
            owner = bytes.fromhex(member.address[2:])
            deposit_token(chain, vault, token, AMOUNT, owner, account_from_key(DEV_PRIVATE_KEY))
            api = f"http://127.0.0.1:{config.api.listen_port}"

            def credited() -> bool:
                body = signed_account_query(member, genesis["chain_id"])
                try:
                    reply = httpx.post(f"{api}/v1/accounts/query", json=body, timeout=5)
                except httpx.TransportError:  # the node is still starting
                    return False
                return reply.status_code == 200 and reply.json()["collateral"] == [
                    {"chainId": 31337, "token": usdc["token"], "quanta": AMOUNT}
                ]

            await wait_until("the deposit to be credited", credited, timeout_s=60)
            statuses = net.get_statuses()
            assert [s and s["moniker"] for s in statuses] == ["node0", "node1", "node2", "node3"]
            assert all(s is not None and s["height"] > 0 for s in statuses), statuses
            roots = [read_roots(home / "data" / "node.sqlite3") for home in net.homes]
            for height in range(1, min(len(r) for r in roots) + 1):
                assert len({r[height] for r in roots}) == 1, f"height {height}"

            # the vaults trust exactly the validators of the genesis: the keys made first
            for chain_config, anvil in zip(config.bridge_chains, (a, b), strict=True):
                deployed = connect(anvil.url, chain_config.chain_id).contract(
                    "CollateralVault", chain_config.vault_address
                )
                trusted, _ = deployed.functions.getValidators().call()
                assert sorted(t.lower() for t in trusted) == sorted(
                    v["evm_address"] for v in genesis["validators"]
                )
            assert sorted(v["evm_address"] for v in genesis["validators"]) == sorted(
                k["bridge_address"] for k in made
            )
