"""A fresh anvil chain with a vault trusting the test validators' bridge keys and a USDC;
the chain polls of in-process nodes made quick."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.chain import Chain
from bridge.devchain import DevnetChain
from node.bridge import chain_duties
from tests.node.bridge.support import open_test_chain


@pytest.fixture
def chain() -> Iterator[tuple[Chain, DevnetChain]]:
    with open_test_chain() as opened:
        yield opened


@pytest.fixture
def quick_chain_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The nodes' duties look for expiries every 0.5 s instead of 2 s, as their watchers
    poll the chain (`poll_interval_ms` in network.py's config): anvil answers at once, and
    the rules are the same at any pace."""
    monkeypatch.setattr(chain_duties, "SIGN_INTERVAL_S", 0.5)
