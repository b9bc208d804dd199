"""Four whole validator nodes whose oracle reads a PriceFeed on a real anvil chain
through the bridge adapter: after the feed's owner updates it, every node commits
exactly the feed's price (scaled); a second source on a chain whose RPC is down
fails every round, is shown failing in /v1/oracle, and costs nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.loopback import get_free_port
from bridge.pricefeed import deploy_price_feed, update_price_feed
from bridge.validators import EvmValidatorSet
from bridge.vault import deploy_vault
from tests.node.netproc import GENESIS_DOC
from tests.node.nodenet import open_node_network
from tests.node.test_oracle_network import Poller

pytestmark = [pytest.mark.chain, pytest.mark.slow]

GENESIS = json.loads(GENESIS_DOC.read_text())
DEV = account_from_key(DEV_PRIVATE_KEY)
BTC = "BTC/0.001"


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(chain_id=31_337) as node:
        yield node


def deploy(chain: Chain) -> tuple[str, str]:
    """A vault trusting genesis' validators (the bridge chain's) and a BTC/USD feed."""
    members = [(bytes.fromhex(v["evm_address"][2:]), v["power"]) for v in GENESIS["validators"]]
    vault = deploy_vault(chain, EvmValidatorSet.from_members(0, members), DEV)
    feed = deploy_price_feed(chain, DEV, 8, "BTC / USD", 60_000 * 10**8)
    return vault.address, feed.address


def oracle_config(anvil: AnvilNode, vault: str, feed: str) -> str:
    dead = f"http://127.0.0.1:{get_free_port()}"
    return f"""
[oracle]
enabled = true
interval_ms = 1000

[[oracle.sources]]
kind = "evm"
chain = "anvil"
symbols = ["{BTC}"]
max_age_ms = 600000
feeds = {{ "{BTC}" = {{ address = "{feed}", decimals = 8, scale = "1000" }} }}

[[oracle.sources]]
kind = "evm"
chain = "down"
symbols = ["ETH/0.01"]
timeout_ms = 500
feeds = {{ "ETH/0.01" = {{ address = "{feed}", decimals = 8, scale = "10000" }} }}

[[bridge_chains]]
name = "anvil"
chain_id = {anvil.chain_id}
rpc_url = "{anvil.url}"
vault_address = "{vault}"
confirmation_depth = 0

[[bridge_chains]]
name = "down"
chain_id = 5
rpc_url = "{dead}"
vault_address = "{vault}"
"""


def committed(oracles: list[dict[str, Any]], price: int) -> bool:
    return all(
        o["last_update_height"] is not None and o["index_prices"][BTC] == price for o in oracles
    )


async def test_validators_commit_the_anvil_feeds_price_after_an_update(
    tmp_path: Path, anvil: AnvilNode
) -> None:
    chain = connect(anvil.url, anvil.chain_id)
    vault, feed_address = deploy(chain)
    feed = chain.contract("PriceFeed", feed_address)
    config = oracle_config(anvil, vault, feed_address)
    async with (
        open_node_network(tmp_path, extra_config=config) as net,
        httpx.AsyncClient(timeout=10) as client,
    ):
        poll = Poller(net, client)
        # the feed's first answer (60,000 USD a BTC = 60,000,000 per 0.001 BTC) is committed
        await poll.wait_until(lambda os: committed(os, 60_000_000), timeout_s=40)
        # 61,234.5 USD a BTC -> 61.2345 USD per 0.001 BTC, in micro-USD
        await trio.to_thread.run_sync(update_price_feed, chain, feed, 61_234_50000000, DEV)
        oracles = await poll.wait_until(lambda os: committed(os, 61_234_500), timeout_s=40)
    for oracle in oracles:
        assert oracle["sampling"] and oracle["flagged_clamps"] == []
        good, down = oracle["sources"]
        assert (good["name"], down["name"]) == ("evm(anvil)", "evm(down)")
        assert good["ok"] >= 2 and good["errors"] == 0
        assert down["ok"] == 0 and down["errors"] >= 1
        assert down["last_error"].startswith("FeedUnreachable")
        assert "ETH/0.01" in oracle["index_prices"]  # genesis' price, untouched by a down chain
        assert oracle["index_prices"]["ETH/0.01"] == GENESIS["index_prices"]["ETH/0.01"]
