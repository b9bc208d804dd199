"""A validator cut off from a chain's RPC through deposits, a withdrawal and a 3-block
reorg, then back: nothing credited twice, nothing lost, nobody punished (the scenario:
broken_rpc.py; `python -m bench broken_rpc` holds the cut for minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.chain import Chain
from bridge.devchain import DevnetChain
from tests.node.bridge.broken_rpc import check_broken_rpc, run_broken_rpc

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.usefixtures("quick_chain_polls")]


async def test_a_validator_cut_off_from_the_chain_through_a_reorg_credits_nothing_twice(
    tmp_path: Path, chain: tuple[Chain, DevnetChain]
) -> None:
    run = await run_broken_rpc(tmp_path, *chain)
    check_broken_rpc(run)
    assert run.get_figures()["credits"] == {f"v{i}": 3 for i in range(4)}
