"""A fresh anvil chain with a vault trusting the test validators' bridge keys and a USDC;
the chain polls of in-process nodes made quick."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.anvil import AnvilNode
from bridge.chain import Chain, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain
from bridge.validators import EvmValidatorSet
from node.bridge import chain_duties
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, get_evm_address


@pytest.fixture
def chain() -> Iterator[tuple[Chain, DevnetChain]]:
    with AnvilNode(chain_id=CHAIN_ID) as node:
        evm = connect(node.url, CHAIN_ID)
        validators = EvmValidatorSet.from_members(
            0, [(get_evm_address(k), 10) for k in BRIDGE_KEYS]
        )
        yield evm, deploy_devnet_chain(evm, validators, [("USDC", 6)])


@pytest.fixture
def quick_chain_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The nodes' duties look for expiries every 0.5 s instead of 2 s, as their watchers
    poll the chain (`poll_interval_ms` in network.py's config): anvil answers at once, and
    the rules are the same at any pace."""
    monkeypatch.setattr(chain_duties, "SIGN_INTERVAL_S", 0.5)
