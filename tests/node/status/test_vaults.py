"""Reading a vault for the status page: one link per chain, dropped when a read fails."""

from __future__ import annotations

import pytest

from bridge.chain import Chain
from bridge.devchain import DevnetChain
from clearing.assets import CollateralToken
from node.config import BridgeChainConfig
from node.status.vault_reads import read_vault
from tests.node.bridge.conftest import chain  # noqa: F401 (the anvil fixture)
from tests.node.netproc import get_free_port

pytestmark = pytest.mark.chain


def usdc(chain_id: int, token: bytes) -> CollateralToken:
    return CollateralToken(chain_id, token, "USDC", 6, 1, 0, "USDC/quantum")


def test_the_link_is_kept_while_reads_succeed_and_dropped_when_one_fails(
    chain: tuple[Chain, DevnetChain],  # noqa: F811
) -> None:
    evm, deployed = chain
    config = BridgeChainConfig("one", evm.chain_id, evm.url, "0x" + deployed.vault.hex())
    tokens = [usdc(evm.chain_id, deployed.tokens["USDC"])]
    connected: dict[int, Chain] = {}
    assert read_vault(config, tokens, connected) == {"USDC": 0}
    link = connected[evm.chain_id]
    assert read_vault(config, tokens, connected) == {"USDC": 0}
    assert connected[evm.chain_id] is link
    dead = BridgeChainConfig("one", evm.chain_id, f"http://127.0.0.1:{get_free_port()}", "0x00")
    with pytest.raises(Exception):  # noqa: B017 (any transport error of the dead chain)
        read_vault(dead, tokens, {})
    link.url = dead.rpc_url
    link.w3.provider.endpoint_uri = dead.rpc_url  # type: ignore[attr-defined]
    with pytest.raises(Exception):  # noqa: B017
        read_vault(config, tokens, connected)
    assert connected == {}
