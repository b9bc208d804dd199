"""Small line charts as inline SVG: no script, no style sheet, integer coordinates.

A chart draws one or more series over a shared x axis, scaled to its box;
its caption (if any) names what it shows; under it, the caller's words for the lowest
and highest values and for the span of x. A chart with fewer than two points says so instead of
drawing an empty box.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 320, 96
PAD = 6
SVG_NS = "http://www.w3.org/2000/svg"
COLOURS = ("#1f5fbf", "#c0392b", "#2e8b57", "#8e44ad")
MAX_VERTICES = 120
"""A line's vertices at most: beyond, every k-th point (and the last) is drawn, so a page
of many instruments' sparklines stays small."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[int, int]]
    """(x, y) in the chart's integer units, x ascending."""


def thin(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most MAX_VERTICES of `points`, evenly spaced, the first and the last kept."""
    step = max(1, -(-len(points) // MAX_VERTICES))  # a series may have no point (withheld)
    kept = list(points[::step])
    if kept and kept[-1] != points[-1]:
        kept[-1] = points[-1]
    return kept


def scale(value: int, low: int, high: int, pixels: int) -> int:
    """`value` in [low, high] to [0, pixels]; a flat range sits in the middle."""
    if high == low:
        return pixels // 2
    return (value - low) * pixels // (high - low)


def render_chart(
    chart_id: str,
    caption: str,
    series: Sequence[Series],
    label: Callable[[int], str],
    span: Callable[[int, int], str],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """A figure with the chart, or with the words saying why there is none."""
    points = [p for s in series for p in s.points]
    head = f"<figure class='chart' id='{html.escape(chart_id)}'><figcaption>{html.escape(caption)}"
    if len({x for x, _ in points}) < 2:
        return (
            f"{head}</figcaption><p class='no-chart'>{len(points)} point(s) so far: "
            "a line needs two</p></figure>"
        )
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    inner_w, inner_h = width - 2 * PAD, height - 2 * PAD
    lines = []
    for colour, one in zip(COLOURS, series, strict=False):
        coords = " ".join(
            f"{PAD + scale(x, x0, x1, inner_w)},{PAD + inner_h - scale(y, y0, y1, inner_h)}"
            for x, y in thin(one.points)
        )
        lines.append(
            f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{coords}'>"
            f"<title>{html.escape(one.name)}</title></polyline>"
        )
    legend = "".join(
        f"<span class='key' style='color:{colour}'>■ {html.escape(one.name)}</span>"
        for colour, one in zip(COLOURS, series, strict=False)
        if len(series) > 1
    )
    svg = (
        f"<svg xmlns='{SVG_NS}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'>"
        f"<title>{html.escape(caption or ', '.join(one.name for one in series))}</title>"
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#fff' stroke='#ccc'/>"
        f"{''.join(lines)}</svg>"
    )
    low, high = label(y0), label(y1)
    values = f"{low} throughout" if low == high else f"{low} – {high}"
    return (
        f"{head}{legend}</figcaption>{svg}<div class='axis'><span>{html.escape(values)}</span>"
        f"<span>{html.escape(span(x0, x1))}</span></div></figure>"
    )
