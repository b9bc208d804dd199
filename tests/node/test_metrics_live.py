"""Every metric the operator guide lists exists on a running node, and the ones that
measure the chain move as it commits; `/v1/status` says when a node stops committing
(a 4-validator network, whole nodes, real libp2p)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import trio

from node.driver import DriverConfig
from node.liveness import get_stall_limit_ms
from tests.node.nodenet import NodeNetwork, open_node_network

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = get_stall_limit_ms(DriverConfig("clearnode")) / 1000
ORACLE = (
    "[oracle]\nenabled = true\ninterval_ms = 1000\n"
    "[[oracle.sources]]\nkind = 'simulator'\n"
    "symbols = ['BTC/0.001', 'BTC-PERP']\nstart_prices = [60000000, 60000000]\n"
    "seed = 11\nmax_step_bps = 10\n"
)


def get_documented_metrics() -> set[str]:
    guide = (ROOT / "docs" / "operator.md").read_text()
    section = guide[guide.index("## Metrics") :]
    section = section[: section.index("\n## ", 1)]
    return {name.removesuffix("_total") for name in re.findall(r"`(clearnode_[a-z0-9_]+)", section)}


def get_samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value of every sample line of a text exposition."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


async def scrape(net: NodeNetwork) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{net.homes[0].api_port}/metrics")
    assert response.status_code == 200
    return response.text


async def test_every_documented_metric_exists_and_the_chain_metrics_move(tmp_path: Path) -> None:
    async with open_node_network(tmp_path, extra_config=ORACLE) as net:
        await net.wait_for_height(3)
        first = get_samples(await scrape(net))
        await net.wait_for_height(net.get_height(net.homes[0]) + 3)
        text = await scrape(net)
        later = get_samples(text)

    families = {name.removesuffix("_total") for name in re.findall(r"^# TYPE (\S+) ", text, re.M)}
    assert get_documented_metrics() - families == set()
    assert later["clearnode_height"] >= first["clearnode_height"] + 3 >= 6
    assert (
        later["clearnode_blocks_committed_total"] >= first["clearnode_blocks_committed_total"] + 3
    )
    assert later["clearnode_commit_seconds_count"] >= first["clearnode_commit_seconds_count"] + 3
    assert later["clearnode_peers"] == 3
    assert "clearnode_mempool_txs" in later and "clearnode_mempool_bytes" in later
    assert later['clearnode_block_txs_total{result="ok"}'] >= 1  # price updates
    assert later['clearnode_oracle_observations_total{direction="out"}'] >= 1


async def test_status_says_when_a_node_is_cut_off_and_stops_committing(tmp_path: Path) -> None:
    async with open_node_network(tmp_path) as net:
        await net.wait_for_height(3)
        lonely, *others = net.homes
        health = (await net.get_json(lonely, "/v1/status"))["health"]
        assert health["warnings"] == [] and health["blocks_behind"] == 0
        assert health["best_peer_height"] >= health["last_commit_height"] - 1 >= 2
        for home in others:
            net.stop(home)
        with trio.fail_after(LIMIT_S + 10):
            while not (status := await net.get_json(lonely, "/v1/status"))["health"]["warnings"]:
                await trio.sleep(0.5)
        (warning,) = status["health"]["warnings"]
        assert warning.startswith("no commit for ")
        assert status["health"]["last_commit_age_s"] > LIMIT_S
        async with httpx.AsyncClient(timeout=10) as client:
            page = (await client.get(f"http://127.0.0.1:{lonely.api_port}/")).text
        assert "<p class='bad alert'>no commit for " in page
