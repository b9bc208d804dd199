"""The page rendered from a pinned overview, as a person and as Chromium read it:
alerts on top, amounts in their units, dates and ages, charts as SVG without script."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from clearing.default.house import HOUSE
from clearing.state import get_sub_account_for_write
from devnet.sandbox import Sandbox
from node.status.charts import SVG_NS
from node.status.history import History
from node.status.journal import Journal
from node.status.overview import build_overview
from node.status.page import render_status_page
from node.status.units import Unit, format_shown
from tests.node.status.png import LINE, count_colours, get_size, near
from tests.node.status.test_overview import commit, traded_sandbox
from tests.node.status.test_status_page import CHROMIUM, WINDOW, screenshot

ALERT_BACKGROUND = (0xFD, 0xEC, 0xEA)
CALM_BACKGROUND = (0xEE, 0xF8, 0xEE)
BLOCKS = 30


def pinned_overview(box: Sandbox) -> tuple[dict[str, Any], int]:
    """The overview after BLOCKS commits of one second each, BTC-PERP's mark moving; and
    the moment 12 s after the last block."""
    journal, history = Journal(), History()
    for height in range(1, BLOCKS + 1):
        commit(journal, height, None)
        box.state.mark_prices["BTC-PERP"] = 60_000_000 + (height % 7) * 150_000
        history.record(box.state, journal.blocks[0])
    overview = build_overview("node-<1>", box.state, journal, {}, None, detailed=False,
                              history=history)  # fmt: skip
    return overview, 1_000 * BLOCKS + 12_000


def troubled(box: Sandbox) -> Sandbox:
    get_sub_account_for_write(box.state, *HOUSE).cash = -box.state.insurance_fund - 42
    return box


def test_the_page_shows_units_times_alerts_and_charts() -> None:
    box = troubled(traded_sandbox())
    overview, now_ms = pinned_overview(box)
    page = render_status_page(overview, now_ms)
    money = Unit(box.genesis.settlement_asset.symbol, box.genesis.settlement_asset.decimals)
    assert "<meta http-equiv='refresh'" in page and "<script" not in page.lower()
    assert "&lt;1&gt;" in page and "node-<1>" not in page
    assert page.index("<ul id='alerts'>") < page.index("<h2>")  # alerts above everything
    assert f"defaults cost {format_shown(42, money)} more than the waterfall held" in page
    mark = box.state.mark_prices["BTC-PERP"]
    assert f"<td class='num'>{format_shown(mark, money)}</td>" in page
    assert "1970-01-01 00:00:30 UTC (12 s ago)" in page  # the last block, against now_ms
    house = overview["clearing_house"]["house_equity"]
    assert format_shown(house, money) in page and f">{house}<" not in page
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    # height, latency, default fund, then one per instrument with a mark
    assert len(svgs) == 3 + len(overview["prices"])
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == f"{{{SVG_NS}}}svg"
        lines = list(root.iter(f"{{{SVG_NS}}}polyline"))
        assert lines and all(len(x.attrib["points"].split()) == BLOCKS for x in lines)
    low, high = format_shown(60_000_000, money), format_shown(60_900_000, money)
    assert "id='chart-mark-BTC-PERP'" in page and f"{low} – {high}" in page


def test_a_page_of_a_new_node_says_what_it_cannot_draw_yet() -> None:
    box = traded_sandbox()
    page = render_status_page(build_overview("n", box.state, Journal(), {}, None,
                                             detailed=False), 0)  # fmt: skip
    assert "<svg" not in page and page.count("0 point(s) so far: a line needs two") == 3 + len(
        box.state.mark_prices
    )
    assert "<p id='alerts'>no alerts</p>" in page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is missing: `make test` installs it")
def test_chromium_draws_the_alerts_and_the_charts(tmp_path: Path) -> None:
    shots = {}
    for name, box in (("troubled", troubled(traded_sandbox())), ("calm", traded_sandbox())):
        overview, now_ms = pinned_overview(box)
        if name == "troubled":
            overview["chains"][0]["error"] = "ConnectionError: refused"
        html_file = tmp_path / f"{name}.html"
        html_file.write_text(render_status_page(overview, now_ms))
        shot = tmp_path / f"{name}.png"  # kept by pytest under its basetemp for a look
        screenshot(html_file.as_uri(), shot)
        data = shot.read_bytes()
        assert get_size(data) == WINDOW
        shots[name] = count_colours(data, rows=500)
    assert near(ALERT_BACKGROUND, shots["troubled"]) > 20_000  # a box across the page
    assert near(ALERT_BACKGROUND, shots["calm"]) < 100  # antialiased red text at most
    assert near(CALM_BACKGROUND, shots["calm"]) > 10_000
    for counts in shots.values():
        assert near(LINE, counts) > 300  # the height and latency lines are drawn
