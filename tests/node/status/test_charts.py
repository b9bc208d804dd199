"""The charts are well-formed SVG with one vertex per point, no script, inside their box."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from node.status.charts import (
    HEIGHT,
    MAX_VERTICES,
    SVG_NS,
    WIDTH,
    Series,
    render_chart,
    scale,
)


def svg_of(figure: str) -> ET.Element:
    (svg,) = re.findall(r"<svg.*?</svg>", figure, re.S)
    return ET.fromstring(svg)


def vertices(root: ET.Element) -> list[list[tuple[int, int]]]:
    return [
        [(int(x), int(y)) for x, y in (p.split(",") for p in line.attrib["points"].split())]
        for line in root.iter(f"{{{SVG_NS}}}polyline")
    ]


def span(x0: int, x1: int) -> str:
    return f"heights {x0}–{x1}"


def test_a_line_has_one_vertex_per_point_within_the_box() -> None:
    points = [(h, 1_000 + (h * 37) % 11) for h in range(100, 160)]
    figure = render_chart("c", "Latency <ms>", [Series("a&b", points)], str, span)
    root = svg_of(figure)
    assert root.tag == f"{{{SVG_NS}}}svg" and root.attrib["width"] == str(WIDTH)
    (line,) = vertices(root)
    assert len(line) == len(points)
    assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in line)
    assert [x for x, _ in line] == sorted(x for x, _ in line)
    highest = max(range(len(points)), key=lambda i: points[i][1])
    assert line[highest][1] == min(y for _, y in line)  # higher values are drawn higher
    assert "script" not in figure.lower()
    assert "Latency &lt;ms&gt;" in figure and "1000 – 1010" in figure
    assert "heights 100–159" in figure


def test_two_series_share_the_scale_and_are_named() -> None:
    posted = [(h, 50) for h in range(10)]
    required = [(h, 100) for h in range(10)]
    figure = render_chart("f", "Fund", [Series("posted", posted), Series("required", required)],
                          str, span)  # fmt: skip
    low, high = vertices(svg_of(figure))
    assert all(y_low > y_high for (_, y_low), (_, y_high) in zip(low, high, strict=True))
    assert "posted" in figure and "required" in figure


def test_a_flat_line_sits_in_the_middle_and_says_so() -> None:
    figure = render_chart("f", "Flat", [Series("x", [(1, 7), (2, 7)])], str, span)
    (line,) = vertices(svg_of(figure))
    assert len({y for _, y in line}) == 1
    assert "7 throughout" in figure
    assert scale(5, 5, 5, 80) == 40


def test_fewer_than_two_points_say_so_and_draw_nothing() -> None:
    for points in ([], [(3, 9)], [(3, 9), (3, 10)]):
        figure = render_chart("e", "Empty", [Series("x", points)], str, span)
        assert "<svg" not in figure
        assert f"{len(points)} point(s) so far: a line needs two" in figure


def test_a_long_history_is_thinned_to_its_shape() -> None:
    points = [(h, h % 50) for h in range(1, 1_000)]
    figure = render_chart("t", "Long", [Series("x", points)], str, span)
    (line,) = vertices(svg_of(figure))
    assert MAX_VERTICES // 2 < len(line) <= MAX_VERTICES
    assert line[0][0] == min(x for x, _ in line) and line[-1][0] == max(x for x, _ in line)
    assert "0 – 49" in figure and "heights 1–999" in figure  # labels from every point
