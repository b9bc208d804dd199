"""Each node serves its status page: four real nodes, trades over HTTP, headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key, derive_seed
from node.p2p import HostConfig, open_p2p
from node.p2p.topics import TX, get_topic
from node.status.charts import SVG_NS
from tests.node.netproc import NodeHome
from tests.node.netsupport import get_wall_times
from tests.node.nodenet import open_node_network
from tests.node.status.png import LINE, count_colours, get_size, near
from tests.node.test_network_inprocess import setup_txs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1100, 1400)


def one_way_batches(chain_id: int) -> list[bytes]:
    """m0 buys from m1 and m2 from m3 (setup_txs' members), so all four hold risk."""
    m = [derive_member_key(f"m{i}").address for i in range(4)]
    venue = derive_ed25519_key("venue-alpha")
    trades = [Trade(100 + i, "BTC-PERP", m[2 * i], 0, m[2 * i + 1], 0, 60_000_000, 2)
              for i in range(2)]  # fmt: skip
    return [encode_tx(sign_trade_batch(venue, chain_id, "alpha", 100 + i, (t,), *get_wall_times()))
            for i, t in enumerate(trades)]  # fmt: skip


async def wait_for_overview(
    home: NodeHome, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The node's overview on its operator listener once `ready` holds for it."""
    async with httpx.AsyncClient(timeout=10, headers=home.operator_headers) as client:
        with trio.fail_after(60):
            while True:
                url = f"http://127.0.0.1:{home.operator_port}/v1/overview"
                overview = (await client.get(url)).json()
                if ready(overview):
                    return overview
                await trio.sleep(0.2)


def has_members(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda overview: len(overview["members"]) >= count


def has_margined(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda overview: sum(m["status"] == "ok" for m in overview["members"]) >= count


def screenshot(url: str, shot: Path) -> None:
    assert CHROMIUM is not None, "chromium is missing: run `make test`, which installs it"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", url],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
async def test_every_node_serves_a_page_with_real_data(tmp_path: Path) -> None:
    setup, _ = setup_txs()
    async with open_node_network(tmp_path) as net:
        await net.wait_for_height(1)
        client_config = HostConfig(
            derive_seed("status-client"),
            persistent_peers=tuple(h.addr for h in net.homes),
            genesis_hash=net.homes[0].genesis_hash,
        )
        async with open_p2p(client_config, [get_topic(TX)]) as client:
            await client.wait_for_mesh(TX, 2)
            for tx in setup:
                await client.publish(TX, tx)
            await wait_for_overview(net.homes[0], has_members(4))
            async with httpx.AsyncClient(timeout=10) as http:
                for i, batch in enumerate(one_way_batches(4242)):
                    url = f"http://127.0.0.1:{net.homes[i % 4].api_port}/v1/trade-batches"
                    answer = await http.post(
                        url, content=batch, headers={"content-type": "application/msgpack"}
                    )
                    assert answer.status_code == 202, answer.text
            overviews = [await wait_for_overview(h, has_margined(4)) for h in net.homes]
        for home, overview in zip(net.homes, overviews, strict=True):
            assert overview["moniker"] == home.name
            assert [v["name"] for v in overview["validators"]] == [
                f"validator-{i}" for i in range(4)
            ]
            assert overview["blocks"] and overview["blocks"][0]["signers"] >= 3
            assert all(m["maintenance_margin"] > 0 for m in overview["members"])
        port = net.homes[2].operator_port
        async with httpx.AsyncClient(timeout=10, headers=net.homes[2].operator_headers) as http:
            page = (await http.get(f"http://127.0.0.1:{port}/")).text
            spec = (await http.get(f"http://127.0.0.1:{port}/openapi.json")).json()
            public = (await http.get(f"http://127.0.0.1:{net.homes[2].api_port}/")).text
        assert "clearnode status: v2" in page and "validator-3" in page
        assert "31337" in page and "health" in page and "quantity" not in page
        assert "/v1/overview" in spec["paths"] and "/metrics" in spec["paths"]
        assert "id='members'" in page and "id='members'" not in public
        assert "4 sub-accounts hold risk" in public
        assert "<script" not in page and ("<p id='alerts'>no alerts</p>" in page
                                          or "<ul id='alerts'>" in page)  # fmt: skip
        svgs = re.findall(r"<svg.*?</svg>", page, re.S)
        assert "id='chart-height'" in page and len(svgs) >= 4  # height, latency, fund, a mark
        assert all(ET.fromstring(svg).tag == f"{{{SVG_NS}}}svg" for svg in svgs)
        asset = overviews[2]["units"]["settlement"]["symbol"]
        assert f" {asset}</td>" in page and " s ago" in page and " UTC" in page
        shot = tmp_path / "status.png"  # kept by pytest under its basetemp for a look
        saved = tmp_path / "status.html"  # the page needs nothing else: no script, inline SVG
        saved.write_text(page)  # (and the browser cannot send the operator's token)
        await trio.to_thread.run_sync(screenshot, saved.as_uri(), shot)
        data = shot.read_bytes()
        assert get_size(data) == WINDOW
        assert near(LINE, count_colours(data, rows=600)) > 300  # the charts are drawn
