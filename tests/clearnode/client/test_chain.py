"""The chain calls need web3, the `chain` extra of clearnode-client: without it they
raise MissingExtra naming the extra, before anything is sent, and the rest of the SDK
works (tests/clearnode/client/test_distribution.py installs it without web3)."""

from __future__ import annotations

import sys

import httpx
import pytest

from clearnode.client import Client, MissingExtra, Vault
from clearnode.client.vault import account_from_key, connect

WITHOUT_WEB3 = ("bridge.chain", "bridge.vault", "bridge.relayer")
KEY = "0x" + "11" * 32


@pytest.fixture
def no_web3(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interpreter in which `import web3` fails, as in clearnode-client's base install."""
    monkeypatch.setitem(sys.modules, "web3", None)
    for name in WITHOUT_WEB3:
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_vault_without_web3_names_the_extra(no_web3: None) -> None:
    with pytest.raises(MissingExtra) as raised:
        Vault.at("http://127.0.0.1:1", 31337, "0x" + "22" * 20)
    assert (raised.value.feature, raised.value.extra, raised.value.module) == (
        "connect",
        "chain",
        "web3",
    )
    assert "pip install 'clearnode-client[chain]'" in str(raised.value)
    with pytest.raises(MissingExtra):
        connect("http://127.0.0.1:1", 31337)


async def test_relaying_without_web3_names_the_extra_before_asking_the_node(
    no_web3: None,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = Client("http://127.0.0.1:1", 7, http)
        with pytest.raises(MissingExtra, match=r"Client\.relay needs web3"):
            await client.relay(None, account_from_key(KEY))  # type: ignore[arg-type]


def test_a_wallet_key_needs_no_web3(no_web3: None) -> None:
    """Signing with eth-account is in the base install."""
    assert account_from_key(KEY).address.startswith("0x")
