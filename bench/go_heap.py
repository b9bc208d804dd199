"""What a `cometbft` process's live heap grew by between two moments, by allocation site:
its Go profiler's heap profiles (`[cometbft] pprof_port`), compared by `go tool pprof`.

The soak's Go figures (`go_mb`) say whether live heap grows; these say what holds it.
A site's in-use bytes are the objects allocated there and still live at the profile
(sampled by the runtime, one sample per 512 KiB allocated on average, scaled up)."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

TOP_SITES = 15
SITE_LINE = re.compile(
    r"^\s*(-?[\d.]+)(?:MB)?\s+-?[\d.]+%\s+-?[\d.]+%\s+(-?[\d.]+)(?:MB)?\s+-?[\d.]+%\s+(.+?)\s*$"
)
"""A line of `go tool pprof -top -unit=MB`: flat, flat%, sum%, cum, cum%, function (a
zero is written without its unit)."""


class HeapProfileError(RuntimeError):
    """`go tool pprof` could not compare two heap profiles."""

    def __init__(self, base: Path, last: Path, stderr: str) -> None:
        super().__init__(f"go tool pprof could not compare {base} with {last}: {stderr.strip()}")
        self.base, self.last, self.stderr = base, last, stderr


def save_heap_profile(pprof_port: int, path: Path) -> Path:
    """The process's heap profile now, written to `path` (gzipped protobuf)."""
    url = f"http://127.0.0.1:{pprof_port}/debug/pprof/heap"
    with urllib.request.urlopen(url, timeout=30) as response:
        path.write_bytes(response.read())
    return path


def get_heap_growth(base: Path, last: Path, top: int = TOP_SITES) -> list[dict[str, Any]]:
    """The `top` sites whose live bytes grew most from `base` to `last`: MB allocated at
    the site itself (`flat_mb`) and below it (`cum_mb`), the function."""
    found = subprocess.run(
        ["go", "tool", "pprof", "-top", "-unit=MB", "-sample_index=inuse_space",
         f"-nodecount={top}", "-base", str(base), str(last)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if found.returncode != 0:
        raise HeapProfileError(base, last, found.stderr)
    return parse_top(found.stdout)


def parse_top(text: str) -> list[dict[str, Any]]:
    """The site lines of `go tool pprof -top -unit=MB`'s output, in its order."""
    sites = []
    for line in text.splitlines():
        match = SITE_LINE.match(line)
        if match is not None:
            flat, cum, function = match.groups()
            sites.append({"flat_mb": float(flat), "cum_mb": float(cum), "function": function})
    return sites
