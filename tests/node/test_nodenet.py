"""The whole-node test network itself: four `run_node`s commit and serve their API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS
from tests.node.nodenet import open_node_network


@pytest.mark.slow
async def test_four_whole_nodes_commit_and_answer(tmp_path: Path) -> None:
    async with open_node_network(tmp_path, extra_config=ORACLE_OFF + SHORT_TIMEOUTS) as net:
        await net.wait_for_height(3)
        status = await net.get_json(net.homes[0], "/v1/status")
        assert status["height"] >= 3 and status["moniker"] == "v0"
