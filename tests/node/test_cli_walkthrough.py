"""docs/operator.md's walk-through, as an operator runs it: two anvil chains,
`clearnode init --validators 4 --deploy-anvil ...`, four `clearnode start --home`,
a member's deposit on a vault, and the credit in the member's signed account query."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.vault import deposit_token
from clearing.eip712 import compute_signable, sign_typed
from node.api.bodies import ACCOUNT_QUERY_FIELDS
from node.config import load_config
from tests.node.netproc import cli_network
from tests.node.test_network_processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.chain]
AMOUNT = 1_000 * 10**6  # 1,000 USDC


def signed_account_query(member: Account, chain_id: int) -> dict[str, object]:
    message = {
        "member": member.address.lower(),
        "subAccount": 0,
        "issuedAtMs": time.time_ns() // 10**6,
    }
    signable = compute_signable(chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = sign_typed(member.key, signable)
    return {"chainId": chain_id, "message": message, "signature": "0x" + signature.hex()}


async def test_operator_walkthrough_deposit_is_credited(tmp_path: Path) -> None:
    with AnvilNode(chain_id=31337) as a, AnvilNode(chain_id=31338) as b:
        deploy = ("--deploy-anvil", f"a={a.url}", "--deploy-anvil", f"b={b.url}")
        with cli_network(tmp_path / "net", 4, deploy) as net:
            assert "Collateral chains" in net.init_output
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
            api = f"http://127.0.0.1:{config.api.listen_port}/v1/accounts/query"

            def credited() -> bool:
                body = signed_account_query(member, genesis["chain_id"])
                try:
                    reply = httpx.post(api, json=body, timeout=5)
                except httpx.TransportError:  # the node is still starting
                    return False
                return reply.status_code == 200 and reply.json()["collateral"] == [
                    {"chainId": 31337, "token": usdc["token"], "quanta": AMOUNT}
                ]

            await wait_until("the deposit to be credited", credited, timeout_s=60)
            statuses = net.get_statuses()
            assert all(s is not None and s["height"] > 0 for s in statuses), statuses
